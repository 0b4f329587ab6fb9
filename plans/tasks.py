"""Celery tasks: thin adapters that take ids and call services (no business rules here).

Names are pinned with name=: the beat schedule and tasks already in a queue refer to them,
so moving the code behind them must not rename them.
"""

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from plans import outbox

from .models import WorkerHeartbeat

log = logging.getLogger(__name__)


@shared_task(name="plans.tasks.record_heartbeat")
def record_heartbeat(name: str = "worker") -> None:
    """Run by beat every minute; staff pages show when a worker last answered."""
    WorkerHeartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})


@shared_task(name="plans.tasks.sweep_due_messages")
def sweep_due_messages() -> int:
    """Run by beat every minute: hand every due outbox row to the workers, in batches.

    Loops until nothing due is left (a morning burst goes out in one sweep, not 500 a
    minute), up to NOTIFICATIONS_SWEEP_MAX rows per run so the task stays short. If the
    broker refuses a publish, stop and unmark what was not published: the rows stay pending
    and the next sweep hands them out again. Nothing is lost: the row, not the queue, is the truth.
    """
    outbox.expire_overdue(timezone.now())
    queued = 0
    while queued < settings.NOTIFICATIONS_SWEEP_MAX:
        ids = outbox.hand_out(timezone.now(), limit=settings.NOTIFICATIONS_SWEEP_BATCH)
        size = settings.NOTIFICATIONS_SEND_BATCH
        for start in range(0, len(ids), size):
            message_ids = ids[start : start + size]
            try:
                send_messages.delay(message_ids)
            except Exception:
                log.exception("Broker unavailable: %s due message(s) stay pending for the next sweep", len(ids) - start)
                outbox.release(ids[start:])
                return queued
            queued += len(message_ids)
        if len(ids) < settings.NOTIFICATIONS_SWEEP_BATCH:
            break
    return queued


@shared_task(name="plans.tasks.send_messages")
def send_messages(message_ids: list[int]) -> dict[int, str]:
    """Deliver a batch of outbox rows over one SMTP connection. Safe to run twice."""
    return outbox.deliver_many(message_ids)


@shared_task(name="plans.tasks.waitlist_sweep")
def waitlist_sweep() -> int:
    """Run by beat every minute: expired waitlist offers go to the next clients. Safe to run twice."""
    from plans.services import waitlist

    return waitlist.waitlist_sweep(now=timezone.now()).offered


@shared_task(name="plans.tasks.intake_purge")
def intake_purge() -> int:
    """Run by beat: new-client forms that never became a client are deleted after INTAKE_KEEP_DAYS.
    Safe to run twice."""
    from plans.services import intake

    return intake.intake_purge(now=timezone.now())
