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


def as_client_reads(moment: dt.datetime, now: dt.datetime) -> str:
    """What an email or public page says for `moment` read at `now`: 'Tuesday 3 March at 09:00',
    the year only when it is not the current year on the clinic's calendar. Written out here, not
    imported from the app, so a test using it checks the app's formatter instead of repeating it."""
    wall, today = moment.astimezone(LONDON), now.astimezone(LONDON)
    year = "" if wall.year == today.year else f" {wall.year}"
    return f"{wall:%A} {wall.day} {wall:%B}{year} at {wall:%H:%M}"
