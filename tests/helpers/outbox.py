"""The outbox's side of the booking services: book, reschedule, cancel and complete call the same hooks in one
transaction, and the emails that come out are read part by part."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from plans import outbox
from plans.models import PlanSession, SessionStatus, TreatmentPlan


def book(plan: TreatmentPlan) -> list[PlanSession]:
    """What the booking service does: save the booked sessions and call the hook in one transaction."""
    with transaction.atomic():
        sessions = list(plan.sessions.filter(status=SessionStatus.BOOKED).order_by("sequence"))
        outbox.on_sessions_booked(sessions)
    return sessions


def reschedule(session: PlanSession, new_start: dt.datetime) -> PlanSession:
    with transaction.atomic():
        session.starts_at = new_start
        session.ends_at = new_start + dt.timedelta(hours=1)
        session.blocked_until = new_start + dt.timedelta(hours=1, minutes=15)
        session.version += 1
        session.save()
        outbox.on_session_rescheduled(session)
    return session


def cancel(session: PlanSession) -> PlanSession:
    with transaction.atomic():
        session.status = SessionStatus.CANCELLED
        session.save()
        outbox.on_session_cancelled(session)
    return session


def complete(session: PlanSession, at: dt.datetime) -> PlanSession:
    with transaction.atomic():
        session.status = SessionStatus.COMPLETED
        session.completed_at = at
        session.save()
        outbox.on_session_completed(session)
    return session


def attachment(message, content_type: str = "text/calendar") -> bytes | None:
    for part in message.iter_attachments():
        if part.get_content_type() == content_type:
            return part.get_payload(decode=True)
    return None


def text_body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()
