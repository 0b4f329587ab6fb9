from django.shortcuts import render
from django.utils import timezone

from plans.models import Message, MessageStatus, WorkerHeartbeat
from plans.permissions import staff_required


@staff_required()
def home(request):
    heartbeat = WorkerHeartbeat.objects.filter(name="worker").first()
    worker_stale = heartbeat is None or (timezone.now() - heartbeat.seen_at).total_seconds() > 180
    failed_messages = Message.objects.filter(status=MessageStatus.FAILED).count()
    return render(
        request,
        "plans/home.html",
        {"heartbeat": heartbeat, "worker_stale": worker_stale, "failed_messages": failed_messages},
    )
