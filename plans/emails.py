"""Rendering an outbox row into the email the client receives (multipart text + HTML, .ics).

Content is read at send time from the session as it is then, so the email always states the
current time; notifications.deliver has already checked the session still stands.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone

from plans import ics
from plans.links import link_url
from plans.models import Message, MessageKind, PlanSession, SessionKind, SessionStatus
from plans.planning import CareNoteParams


def local_when(moment: dt.datetime) -> str:
    """'Monday 30 March 2026 at 09:00 (Europe/London time)': the zone is named, never implied."""
    local = timezone.localtime(moment, zoneinfo.ZoneInfo(settings.CLINIC_TIME_ZONE))
    return f"{local:%A} {local.day} {local:%B %Y} at {local:%H:%M} ({settings.CLINIC_TIME_ZONE} time)"


def _subject(message: Message, session: PlanSession, note: CareNoteParams | None) -> str:
    family, clinic = message.family, settings.CLINIC_NAME
    when = local_when(session.starts_at) if session.starts_at else ""
    if family == MessageKind.CONFIRMATION:
        return f"Booking confirmed at {clinic}: {when}"
    if family == "reminder":
        return f"Reminder: {session.label} on {when}"
    if family == "update":
        return f"Your appointment has moved: now {when}"
    if family == MessageKind.CANCELLATION:
        return f"Cancelled: {session.label} on {when}"
    if family == "care" and note:
        return f"Aftercare: {note.subject}"
    if family == "precare" and note:
        return f"Before your appointment on {when}: {note.subject}"
    return f"Your follow-up assessment at {clinic}"


def _follow_up_session(session: PlanSession) -> PlanSession | None:
    return session.plan.sessions.filter(kind=SessionKind.FOLLOW_UP).order_by("sequence").first()


def build_email(message: Message, *, now: dt.datetime, message_id: str) -> EmailMultiAlternatives:
    session, client, family = message.session, message.client, message.family
    appointments = [session]
    calendar: bytes | None = None
    note = None
    pre_care: tuple[CareNoteParams, ...] = ()
    follow_up = None

    if family == MessageKind.CONFIRMATION:
        covered = message.covers_sessions or [session.pk]
        appointments = list(
            PlanSession.objects.filter(pk__in=covered, status=SessionStatus.BOOKED, starts_at__gt=now)
            .select_related("plan__client")
            .order_by("starts_at")
        )
        calendar = ics.calendar_for(appointments, stamp=now)
    elif family in ("reminder", "update"):
        calendar = ics.calendar_for([session], stamp=now)
        if family == "reminder":
            hours = int(message.kind.removeprefix(MessageKind.REMINDER_PREFIX).removesuffix("h"))
            if session.plan.params.reminder_includes_pre_care(hours):
                pre_care = session.plan.params.care_notes_for("pre")
    elif family == MessageKind.CANCELLATION:
        calendar = ics.calendar_for([session], cancel=True, stamp=now)
    elif family in ("care", "precare"):
        phase = "post" if family == "care" else "pre"
        note_id = message.kind.split(":", 1)[1]
        note = session.plan.params.care_note(phase, note_id)
        if note is None:
            raise LookupError(f"Care note {note_id!r} is not in the plan's protocol snapshot.")
    elif family == MessageKind.FOLLOW_UP_INVITE:
        follow_up = _follow_up_session(session)
        if follow_up and follow_up.status == SessionStatus.BOOKED and follow_up.starts_at:
            calendar = ics.calendar_for([follow_up], stamp=now)

    follow_up_date = None
    if family == MessageKind.FOLLOW_UP_INVITE and not (follow_up and follow_up.status == SessionStatus.BOOKED):
        anchor = (
            follow_up.target
            if follow_up
            else timezone.localdate(session.starts_at) + dt.timedelta(days=session.plan.params.follow_up_days)
        )
        follow_up_date = f"{anchor:%A} {anchor.day} {anchor:%B %Y}"

    # A series confirmation gives each listed appointment its own cancel link; attendance is
    # confirmed from the reminders, one appointment at a time.
    can_change = family in ("reminder", "update", "precare") and session.status == SessionStatus.BOOKED
    series = family == MessageKind.CONFIRMATION
    unsubscribe = link_url(message, "unsubscribe")
    context = {
        "kind": family,
        "client": client,
        "session": session,
        "label": session.label,
        "when": local_when(session.starts_at) if session.starts_at else "",
        "appointments": [
            {
                "label": s.label,
                "when": local_when(s.starts_at),
                "cancel_url": link_url(message, "cancel", s) if series else "",
            }
            for s in appointments
        ],
        "pre_care": pre_care,
        "note": note,
        "follow_up": follow_up if follow_up and follow_up.status == SessionStatus.BOOKED else None,
        "follow_up_when": local_when(follow_up.starts_at) if follow_up and follow_up.starts_at else "",
        "follow_up_date": follow_up_date,
        "confirm_url": link_url(message, "confirm") if can_change else "",
        "cancel_url": link_url(message, "cancel") if can_change else "",
        "unsubscribe_url": unsubscribe,
        "cutoff_hours": settings.CANCELLATION_CUTOFF_HOURS,
        "clinic_name": settings.CLINIC_NAME,
        "clinic_address": settings.CLINIC_ADDRESS,
        "clinic_phone": settings.CLINIC_PHONE,
    }
    email = EmailMultiAlternatives(
        subject=_subject(message, session, note),
        body=render_to_string("emails/message.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[client.email],
        headers={
            "Message-ID": message_id,
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    email.attach_alternative(render_to_string("emails/message.html", context), "text/html")
    if calendar is not None:
        email.attach("appointment.ics", calendar.decode(), "text/calendar")
    return email
