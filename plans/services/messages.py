"""Writes about outbox messages and what clients do with the links in them."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from plans.models import Client, Message, MessageStatus, PlanSession, SessionStatus
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


def session_confirm_attendance(*, message: Message, version: int, now: dt.datetime | None = None) -> Message:
    """The client confirmed with the link: recorded on the message (so on the version it showed)."""
    now = now or timezone.now()
    with transaction.atomic():
        message = Message.objects.select_for_update().select_related("session").get(pk=message.pk)
        session = message.session
        if session.status != SessionStatus.BOOKED:
            raise LinkActionRefused(f"This appointment is {session.get_status_display().lower()}.")
        if session.version != version:
            raise LinkActionRefused("This appointment has been moved since this email. Please use the newest email.")
        if message.attendance_confirmed_at is None:
            message.attendance_confirmed_at = now
            message.save(update_fields=["attendance_confirmed_at", "updated_at"])
    return message


def cancellation_deadline(session: PlanSession) -> dt.datetime:
    return session.starts_at - dt.timedelta(hours=settings.CANCELLATION_CUTOFF_HOURS)


def session_cancel_from_link(*, session: PlanSession, version: int, now: dt.datetime | None = None) -> PlanSession:
    """The client pressed Cancel in an email: refused past the cut-off or if the email is out of date."""
    now = now or timezone.now()
    if session.status != SessionStatus.BOOKED:
        raise LinkActionRefused(f"This appointment is already {session.get_status_display().lower()}.")
    if session.version != version:
        raise LinkActionRefused("This appointment has been moved since this email. Please use the newest email.")
    if now >= cancellation_deadline(session):
        raise LinkActionRefused(
            f"Appointments can be cancelled online up to {settings.CANCELLATION_CUTOFF_HOURS} hours before. "
            f"Please call us on {settings.CLINIC_PHONE}."
        )
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
