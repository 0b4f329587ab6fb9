"""Time off and clinic closures: the rules a closure keeps, and its one write."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from plans.models import TimeOff

# A closure is planned for the foreseeable future and recorded for the recent past; one from
# year 1 to 9999 blocks every booking forever and overflows date arithmetic (a 500).
CLOSURE_PAST = dt.timedelta(days=2 * 366)
CLOSURE_FUTURE = dt.timedelta(days=5 * 366)
CLOSURE_MAX_LENGTH = dt.timedelta(days=366)


def time_off_problems(*, starts_at: dt.datetime, ends_at: dt.datetime, now: dt.datetime | None = None) -> dict:
    """Field -> what is wrong with this period ({} when it can be saved). Forms show them as field errors."""
    now = now or timezone.now()
    problems = {}
    for field, moment in (("starts_at", starts_at), ("ends_at", ends_at)):
        if not now - CLOSURE_PAST <= moment <= now + CLOSURE_FUTURE:
            problems[field] = (
                f"Choose a time between {timezone.localtime(now - CLOSURE_PAST):%d %b %Y} and "
                f"{timezone.localtime(now + CLOSURE_FUTURE):%d %b %Y}."
            )
    if not problems and ends_at <= starts_at:
        problems["ends_at"] = "The time off must end after it starts."
    elif not problems and ends_at - starts_at > CLOSURE_MAX_LENGTH:
        problems["ends_at"] = f"Time off lasts at most {CLOSURE_MAX_LENGTH.days} days: enter a longer one in parts."
    return problems


def time_off_save(*, time_off: TimeOff) -> TimeOff:
    """Create or change a period of time off (a practitioner's, a room's, or the whole clinic's)."""
    if problems := time_off_problems(starts_at=time_off.starts_at, ends_at=time_off.ends_at):
        raise ValidationError(problems)
    time_off.full_clean()
    with transaction.atomic():
        time_off.save()
    return time_off
