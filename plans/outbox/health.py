"""Is email actually going out? What the Today page tells staff, read from the outbox itself.

A worker heartbeat only proves a worker runs tasks; it stayed green while every send failed.
The truth is in the rows: how many are overdue, how many failed, when one last went out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection
from django.db.models import F, Func
from django.utils import timezone
from django.utils.dateparse import parse_datetime

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


def _scalar(queryset) -> tuple[str, list]:
    sql, params = queryset.query.sql_with_params()
    return f"({sql})", list(params)


def _as_datetime(value) -> dt.datetime | None:
    # A raw cursor hands back what the driver makes of the column: PostgreSQL an aware
    # datetime; SQLite text or a naive datetime, both in UTC (USE_TZ stores UTC).
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = parse_datetime(value)
    return value if timezone.is_aware(value) else value.replace(tzinfo=dt.UTC)


def outbox_health(now: dt.datetime | None = None) -> OutboxHealth:
    """The delivery line in one statement (the Today page polls it): `SELECT (a), (b), (c), (d)`,
    four scalar subqueries and no table of its own, so it also answers before any worker ran."""
    now = now or timing.now()
    overdue = Message.objects.filter(
        status__in=[MessageStatus.PENDING, MessageStatus.SENDING], send_at__lt=now - OVERDUE_AFTER
    )
    parts = [
        WorkerHeartbeat.objects.filter(name="worker").values("seen_at")[:1],
        # Each count walks the (status, send_at) index. COUNT as a plain function, not Count():
        # an aggregate in annotate() would group by the row and count each one separately.
        overdue.annotate(n=Func(F("id"), function="COUNT")).values("n").order_by(),
        Message.objects.filter(status=MessageStatus.FAILED)
        .annotate(n=Func(F("id"), function="COUNT"))
        .values("n")
        .order_by(),
        # Newest attempts first by primary key: stops at the first success instead of scanning every row.
        DeliveryAttempt.objects.filter(succeeded=True).order_by("-id").values("attempted_at")[:1],
    ]
    sqls, params = zip(*(_scalar(p) for p in parts), strict=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(sqls), [p for ps in params for p in ps])
        heartbeat, overdue_n, failed_n, last_sent = cursor.fetchone()
    heartbeat = _as_datetime(heartbeat)
    return OutboxHealth(
        overdue=overdue_n or 0,
        failed=failed_n or 0,
        last_sent_at=_as_datetime(last_sent),
        heartbeat_at=heartbeat,
        worker_stale=heartbeat is None or now - heartbeat > HEARTBEAT_STALE_AFTER,
    )
