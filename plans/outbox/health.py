"""Is email actually going out? What the Today page tells staff, read from the outbox itself.

A worker heartbeat only proves a worker runs tasks; it stayed green while every send failed.
The truth is in the rows: how many are overdue, how many failed, when one last went out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q

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
    overdue = Q(status__in=[MessageStatus.PENDING, MessageStatus.SENDING], send_at__lt=now - OVERDUE_AFTER)
    failed = Q(status=MessageStatus.FAILED)
    # One query for both counts (the Today page polls this): each side uses the (status, send_at) index.
    counts = Message.objects.filter(overdue | failed).aggregate(
        overdue=Count("id", filter=overdue), failed=Count("id", filter=failed)
    )
    # Newest attempts first by primary key: stops at the first success instead of scanning every row.
    last_sent = (
        DeliveryAttempt.objects.filter(succeeded=True).order_by("-id").values_list("attempted_at", flat=True).first()
    )
    return OutboxHealth(
        overdue=counts["overdue"],
        failed=counts["failed"],
        last_sent_at=last_sent,
        heartbeat_at=heartbeat,
        worker_stale=heartbeat is None or now - heartbeat > HEARTBEAT_STALE_AFTER,
    )
