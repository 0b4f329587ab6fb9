"""Writes about outbox messages and what clients do with the links in them."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from plans.models import Client, Message, MessageStatus, PlanSession, SessionStatus
from plans.outbox.timing import local_when
from plans.services import booking

log = logging.getLogger(__name__)


class LinkActionRefused(Exception):
    """A client's link action is not allowed now (past the cut-off, session moved...)."""


def message_resend(*, message: Message, by: AbstractBaseUser | None) -> Message:
    """Staff pressed Resend on a failed or expired message: it goes out with the next sweep."""
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message.pk)
        message.requeue_after_failure(now=timezone.now())
        message.save()
    log.info("Message %s re-queued by %s", message.pk, by)
    return message


def _moved_text(session: PlanSession) -> str:
    when = local_when(session.starts_at) if session.starts_at else ""
    return f"This appointment has been moved since this email: it is now on {when}. Please use the newest email."


def confirm_refusal(*, session: PlanSession, version: int) -> str:
    """Why the client cannot confirm attendance with this link now ("" when they can).
    One rule for the page a link shows (GET) and the action it takes (POST)."""
    if session.status != SessionStatus.BOOKED:
        return f"This appointment is {session.get_status_display().lower()}."
    if session.version != version:
        return _moved_text(session)
    return ""


def session_confirm_attendance(*, message: Message, version: int, now: dt.datetime | None = None) -> Message:
    """The client confirmed with the link: recorded on the message (so on the version it showed)."""
    now = now or timezone.now()
    with transaction.atomic():
        message = Message.objects.select_for_update(of=("self",)).select_related("session").get(pk=message.pk)
        if refusal := confirm_refusal(session=message.session, version=version):
            raise LinkActionRefused(refusal)
        if message.attendance_confirmed_at is None:
            message.attendance_confirmed_at = now
            message.save(update_fields=["attendance_confirmed_at", "updated_at"])
    return message


def cancellation_deadline(session: PlanSession) -> dt.datetime:
    return session.starts_at - dt.timedelta(hours=settings.CANCELLATION_CUTOFF_HOURS)


def cancel_refusal(*, session: PlanSession, version: int, now: dt.datetime | None = None) -> str:
    """Why the client cannot cancel with this link now ("" when they can): already cancelled,
    moved since the email, or past the cut-off. The page a link shows and the action agree."""
    now = now or timezone.now()
    if session.status != SessionStatus.BOOKED:
        when = f" on {local_when(session.starts_at)}" if session.starts_at else ""
        return f"{session.label}{when} is already {session.get_status_display().lower()}."
    if session.version != version:
        return _moved_text(session)
    if now >= cancellation_deadline(session):
        return (
            f"Appointments can be cancelled online up to {settings.CANCELLATION_CUTOFF_HOURS} hours before. "
            f"Please call us on {settings.CLINIC_PHONE}."
        )
    return ""


def session_cancel_from_link(*, session: PlanSession, version: int, now: dt.datetime | None = None) -> PlanSession:
    """The client pressed Cancel in an email: refused past the cut-off or if the email is out of date."""
    if refusal := cancel_refusal(session=session, version=version, now=now):
        raise LinkActionRefused(refusal)
    reason = "Cancelled by the client with the email link."
    try:
        return booking.session_cancel(session=session, by_client=True, reason=reason, by=None)
    except booking.BookingError as exc:
        # The booking area refused (e.g. the session changed meanwhile): show its reason.
        raise LinkActionRefused(str(exc)) from exc


def client_unsubscribe(*, client: Client) -> Client:
    """No more email: consent off, and everything still to be sent is cancelled (staff see why)."""
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        client.email_consent = False
        client.save(update_fields=["email_consent", "updated_at"])
        for message in Message.objects.select_for_update().filter(client=client, status=MessageStatus.PENDING):
            message.cancel("The client unsubscribed.")
            message.save()
    return client
