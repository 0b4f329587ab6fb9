"""When outbox messages fall due, and how a moment reads in the clinic's zone.

Every time is an aware UTC datetime; local wall-clock times (reminder leads, care-note
hours) are computed in settings.CLINIC_TIME_ZONE so a daylight-saving change moves
nothing the client reads.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from plans.clock import clinic_zone
from plans.models import PlanSession, SessionKind
from plans.planning import CareNoteParams


def now() -> dt.datetime:
    """The clock, in one place so tests can move it with time-machine."""
    return timezone.now()


def local_day(day: dt.date, *, now: dt.datetime | None = None) -> str:
    """'Tuesday 3 March', with the year only when it is not this year in the clinic's zone."""
    this_year = timezone.localtime(now or timezone.now(), clinic_zone()).year
    year = f" {day.year}" if day.year != this_year else ""
    return f"{day:%A} {day.day} {day:%B}{year}"


def local_when(moment: dt.datetime, *, now: dt.datetime | None = None) -> str:
    """A moment as a client reads it: 'Tuesday 3 March at 09:00' (year only when not this year).

    Always the clinic's wall-clock time, whatever the server's or the reader's zone: clients
    come to the clinic, so its clock is the one that matters, and naming the zone ("Europe/London
    time") read as a machine talking. `now` decides "this year" (the moment an email is built).
    """
    local = timezone.localtime(moment, clinic_zone())
    return f"{local_day(local.date(), now=now)} at {local:%H:%M}"


def reminder_send_at(starts_at: dt.datetime, hours_before: int) -> dt.datetime:
    """The moment a reminder goes out: the same local wall-clock time, `hours_before` earlier.

    Whole days are counted in the clinic's calendar (a 7-day reminder for a 09:00 session
    goes at 09:00 local even across a clock change); the remaining hours are elapsed time.
    """
    days, hours = divmod(hours_before, 24)
    local = timezone.localtime(starts_at, clinic_zone())
    moved = (local.replace(tzinfo=None) - dt.timedelta(days=days)).replace(tzinfo=clinic_zone())
    return moved.astimezone(dt.UTC) - dt.timedelta(hours=hours)


def _care_hour_on(day: dt.date) -> dt.datetime:
    local = dt.datetime.combine(day, dt.time(settings.NOTIFICATIONS_CARE_NOTE_HOUR), tzinfo=clinic_zone())
    return local.astimezone(dt.UTC)


def care_note_send_at(session: PlanSession, offset_days: int, at: dt.datetime) -> dt.datetime:
    """Day 0 notes go at once; later ones at NOTIFICATIONS_CARE_NOTE_HOUR local on their day."""
    if offset_days <= 0:
        return at
    day = timezone.localtime(session.starts_at, clinic_zone()).date() + dt.timedelta(days=offset_days)
    return max(_care_hour_on(day), at)


def pre_care_send_at(starts_at: dt.datetime, offset_days: int) -> dt.datetime:
    """A pre-care note due `offset_days` (negative) before the session: that day, at the care-note hour."""
    return _care_hour_on(timezone.localtime(starts_at, clinic_zone()).date() + dt.timedelta(days=offset_days))


def early_pre_care_notes(session: PlanSession) -> list[CareNoteParams]:
    """Pre-care notes that must be read before the first reminder carrying pre-care goes out.

    The D−7 reminder lists every pre-care note, but "avoid tanning for 14 days" read at D−7
    is too late to follow, so a note due earlier than that reminder gets its own email.
    """
    params = session.plan.params
    earliest_hours = max((r.hours_before for r in params.reminder_leads if r.include_pre_care), default=0)
    return [n for n in params.care_notes_for("pre") if -n.offset_days * 24 > earliest_hours]


def is_last_microneedling(session: PlanSession) -> bool:
    return session.kind == SessionKind.MICRONEEDLING and session.mn_number == session.plan.params.session_count


# The baseline questionnaire goes a few days before session 1 (at once when it is booked later):
# close enough to the first treatment to describe the skin it starts from, early enough to be
# answered at home; never with the confirmation of a session months ahead.
BASELINE_QUESTIONNAIRE_DAYS_BEFORE = 3


def baseline_questionnaire_send_at(starts_at: dt.datetime, at: dt.datetime) -> dt.datetime:
    day = timezone.localtime(starts_at, clinic_zone()).date() - dt.timedelta(days=BASELINE_QUESTIONNAIRE_DAYS_BEFORE)
    return max(_care_hour_on(day), at)


# The assessment questionnaire asks how the skin turned out, so it is answered in the days before
# the follow-up assessment (when the result is judged), not the day the series ends.
ASSESSMENT_QUESTIONNAIRE_DAYS_BEFORE = 7


def assessment_questionnaire_send_at(session: PlanSession, at: dt.datetime) -> dt.datetime:
    """For the last microneedling session just completed: the care-note hour a week before the
    follow-up's target day (follow_up_days after this session when the plan has no follow-up)."""
    follow_up = session.plan.sessions.filter(kind=SessionKind.FOLLOW_UP).order_by("sequence").first()
    target = (
        follow_up.target
        if follow_up
        else timezone.localtime(session.starts_at, clinic_zone()).date()
        + dt.timedelta(days=session.plan.params.follow_up_days)
    )
    return max(_care_hour_on(target - dt.timedelta(days=ASSESSMENT_QUESTIONNAIRE_DAYS_BEFORE)), at)
