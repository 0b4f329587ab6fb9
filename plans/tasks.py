"""Celery tasks: thin adapters that take ids and call services (no business rules here)."""

import logging

from celery import shared_task
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
    """Run by beat every minute: hand each due outbox row to send_message.

    If the broker refuses a publish, stop: the rows stay pending and the next sweep
    hands them out again. Nothing is lost because the row, not the queue, is the truth.
    """
    ids = notifications.sweep_due(timezone.now())
    queued = 0
    for message_id in ids:
        try:
            send_message.delay(message_id)
        except Exception:
            log.exception("Broker unavailable: %s due message(s) stay pending for the next sweep", len(ids) - queued)
            break
        queued += 1
    return queued


@shared_task
def send_message(message_id: int) -> str:
    """Deliver one outbox row. Safe to run twice: only the claim winner sends."""
    return notifications.deliver(message_id)
