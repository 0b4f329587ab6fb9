"""The clinic's wall clock: times in Europe/London, the zone every clinic in the tests keeps."""

import datetime as dt
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """`hour:minute` on `day`, clinic time."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=LONDON)


def local(y, m, d, hh=9, mm=0, ss=0) -> dt.datetime:
    """A wall-clock time in the clinic's zone."""
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=LONDON)
