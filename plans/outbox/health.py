"""Is email actually going out? What the Today page tells staff, read from the outbox itself.

A worker heartbeat only proves a worker runs tasks; it stayed green while every send failed.
The truth is in the rows: how many are overdue, how many failed, when one last went out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Q

from plans.models import DeliveryAttempt, Message, MessageStatus, WorkerHeartbeat
from plans.outbox import timing

# The sweep runs every minute and a batch takes seconds: a row still unsent this long after
# its time means delivery is not working (not just busy).
OVERDUE_AFTER = dt.timedelta(minutes=5)
# Beat records a heartbeat every minute; three missed ones mean no worker is running tasks.
HEARTBEAT_STALE_AFTER = dt.timedelta(minutes=3)


@dataclass(frozen=True)
class OutboxHealth:
    overdue: int
    failed: int
    last_sent_at: dt.datetime | None
    heartbeat_at: dt.datetime | None
    worker_stale: bool

    @property
    def ok(self) -> bool:
        return not self.overdue and not self.worker_stale


def outbox_health(now: dt.datetime | None = None) -> OutboxHealth:
    now = now or timing.now()
    heartbeat = WorkerHeartbeat.objects.filter(name="worker").values_list("seen_at", flat=True).first()
    overdue = Message.objects.filter(
        Q(status=MessageStatus.PENDING) | Q(status=MessageStatus.SENDING), send_at__lt=now - OVERDUE_AFTER
    ).count()
    # Newest attempts first by primary key: stops at the first success instead of scanning every row.
    last_sent = (
        DeliveryAttempt.objects.filter(succeeded=True).order_by("-id").values_list("attempted_at", flat=True).first()
    )
    return OutboxHealth(
        overdue=overdue,
        failed=Message.objects.filter(status=MessageStatus.FAILED).count(),
        last_sent_at=last_sent,
        heartbeat_at=heartbeat,
        worker_stale=heartbeat is None or now - heartbeat > HEARTBEAT_STALE_AFTER,
    )
