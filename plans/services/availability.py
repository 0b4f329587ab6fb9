"""Time off, clinic closures and working hours: the rules a closure keeps, and their writes.

Every write that makes time bookable again (time off removed or shortened, a closure lifted,
working hours added or widened) offers that time to the waitlist in the same transaction
(services/waitlist.slot_freed), so the offer and its cause commit or roll back together."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from plans.models import TimeOff, WorkingHours

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
        before = TimeOff.objects.select_for_update().filter(pk=time_off.pk).first() if time_off.pk else None
        time_off.save()
        if before is not None:
            _offer_freed(before, _minus((before.starts_at, before.ends_at), (time_off.starts_at, time_off.ends_at)))
            if (before.practitioner_id, before.room_id) != (time_off.practitioner_id, time_off.room_id):
                _offer_freed(before, [(before.starts_at, before.ends_at)])  # moved to someone else
    return time_off


def time_off_delete(*, time_off: TimeOff) -> None:
    """Remove a period of time off (or lift a closure): the time it held goes to the waitlist."""
    with transaction.atomic():
        span = [(time_off.starts_at, time_off.ends_at)]
        time_off.delete()
        _offer_freed(time_off, span)


def _minus(old: tuple[dt.datetime, dt.datetime], new: tuple[dt.datetime, dt.datetime]) -> list:
    """The parts of `old` that `new` no longer covers (zero, one or two spans)."""
    (a, b), (c, d) = old, new
    if d <= a or b <= c:
        return [old]
    return [span for span in ((a, min(b, c)), (max(a, d), b)) if span[0] < span[1]]


def _offer_freed(time_off: TimeOff, spans) -> None:
    from plans.services import waitlist

    now = timezone.now()
    # A practitioner's time off frees that practitioner; a room's or the clinic's frees anyone.
    who = (time_off.practitioner_id,) if time_off.practitioner_id else None
    freed = [waitlist.Freed(max(a, now), b, who) for a, b in spans if b > now]
    if freed:
        waitlist.slot_freed(freed=freed, now=now)


def working_hours_save(*, hours: WorkingHours) -> WorkingHours:
    """Create or change one weekly block of a practitioner's hours; the hours it adds, on the
    coming weeks' dates up to the last waitlisted appointment, go to the waitlist."""
    from plans.services import waitlist

    hours.full_clean()
    with transaction.atomic():
        before = WorkingHours.objects.select_for_update().filter(pk=hours.pk).first() if hours.pk else None
        hours.save()
        waitlist.hours_added(hours=hours, before=before)
    return hours
