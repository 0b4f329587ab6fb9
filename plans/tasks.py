"""Celery tasks: thin adapters that take ids and call services (no business rules here)."""

from celery import shared_task
from django.utils import timezone

from .models import WorkerHeartbeat


@shared_task
def record_heartbeat(name: str = "worker") -> None:
    """Run by beat every minute; staff pages show when a worker last answered."""
    WorkerHeartbeat.objects.update_or_create(name=name, defaults={"seen_at": timezone.now()})
