"""A fixed-window request counter kept in the database.

Why not django-ratelimit: it counts in Django's cache, and the cache this project can count
on (none configured: per-process LocMemCache) is not shared between gunicorn workers, so a
limit of 30 would really be 30 per worker; DatabaseCache increments with a read-then-write
that loses counts under concurrency. A row per (key, window) incremented with
`UPDATE ... SET hits = hits + 1` is atomic on SQLite and PostgreSQL, is shared by every
worker, and needs no extra service or `createcachetable` step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from plans.models import RateLimitBucket

# Buckets older than this are deleted when a new bucket is opened: windows must be shorter.
KEEP_BUCKETS_FOR = dt.timedelta(days=1)


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    hits: int
    limit: int
    retry_after_seconds: int


def rate_limit_hit(*, key: str, limit: int, window_seconds: int, now: dt.datetime | None = None) -> RateLimitResult:
    """Count one request for `key` in the current window and say whether it is within `limit`."""
    now = now or timezone.now()
    epoch = int(now.timestamp())
    window_start = dt.datetime.fromtimestamp(epoch - epoch % window_seconds, tz=dt.UTC)
    bucket = RateLimitBucket.objects.filter(key=key, window_start=window_start)
    with transaction.atomic():
        if not bucket.update(hits=F("hits") + 1):
            try:
                with transaction.atomic():
                    RateLimitBucket.objects.create(key=key, window_start=window_start, hits=1)
            except IntegrityError:  # another worker opened the same bucket first
                bucket.update(hits=F("hits") + 1)
            else:
                RateLimitBucket.objects.filter(window_start__lt=now - KEEP_BUCKETS_FOR).delete()
        hits = bucket.values_list("hits", flat=True).get()
    retry_after = int((window_start + dt.timedelta(seconds=window_seconds) - now).total_seconds()) + 1
    return RateLimitResult(allowed=hits <= limit, hits=hits, limit=limit, retry_after_seconds=max(retry_after, 1))
