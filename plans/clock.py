"""The clock and the clinic's time zone, in one place.

Times are stored in UTC and shown in the clinic's zone (settings.CLINIC_TIME_ZONE, which is also
Django's TIME_ZONE). Everything that asks "what time is it?" calls `now()`, so a test moves every
clock at once with time-machine; nothing calls a naive datetime.now().
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.utils import timezone


def now() -> dt.datetime:
    """The current moment, aware, in UTC."""
    return timezone.now()


def clinic_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.CLINIC_TIME_ZONE)


def local(moment: dt.datetime) -> dt.datetime:
    """An aware moment as the clinic's wall-clock time."""
    return timezone.localtime(moment, clinic_zone())


def local_date(moment: dt.datetime | None = None) -> dt.date:
    """The clinic's calendar day of `moment` (default: now)."""
    return local(moment or now()).date()


def at_local(day: dt.date, time: dt.time) -> dt.datetime:
    """The aware moment of a wall-clock `time` on `day` in the clinic's zone."""
    return dt.datetime.combine(day, time, tzinfo=clinic_zone())
