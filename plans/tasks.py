"""Celery tasks: thin adapters that take ids and call services (no business rules here)."""

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from plans import notifications

from .models import WorkerHeartbeat

log = logging.getLogger(__name__)


@shared_task
def record_heartbeat(name: str = "worker") -> None:
    """Run by beat every minute; staff pages show when a worker last answered."""
    WorkerHeartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})


@shared_task
def sweep_due_messages() -> int:
    """Run by beat every minute: hand every due outbox row to the workers, in batches.

    Loops until nothing due is left (a morning burst goes out in one sweep, not 500 a
    minute), up to NOTIFICATIONS_SWEEP_MAX rows per run so the task stays short. If the
    broker refuses a publish, stop and unmark what was not published: the rows stay pending
    and the next sweep hands them out again. Nothing is lost: the row, not the queue, is the truth.
    """
    notifications.expire_overdue(timezone.now())
    queued = 0
    while queued < settings.NOTIFICATIONS_SWEEP_MAX:
        ids = notifications.hand_out(timezone.now(), limit=settings.NOTIFICATIONS_SWEEP_BATCH)
        size = settings.NOTIFICATIONS_SEND_BATCH
        for start in range(0, len(ids), size):
            message_ids = ids[start : start + size]
            try:
                send_messages.delay(message_ids)
            except Exception:
                log.exception("Broker unavailable: %s due message(s) stay pending for the next sweep", len(ids) - start)
                notifications.release(ids[start:])
                return queued
            queued += len(message_ids)
        if len(ids) < settings.NOTIFICATIONS_SWEEP_BATCH:
            break
    return queued


@shared_task
def send_messages(message_ids: list[int]) -> dict[int, str]:
    """Deliver a batch of outbox rows over one SMTP connection. Safe to run twice."""
    return notifications.deliver_many(message_ids)


@shared_task
def send_message(message_id: int) -> str:
    """Deliver one outbox row. Safe to run twice: only the claim winner sends.
    (Sweeps publish send_messages; this stays for tasks queued by older versions.)"""
    return notifications.deliver(message_id)
