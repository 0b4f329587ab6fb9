from django.shortcuts import render
from django.utils import timezone

from plans.models import WorkerHeartbeat
from plans.permissions import staff_required


@staff_required()
def home(request):
    heartbeat = WorkerHeartbeat.objects.filter(name="worker").first()
    worker_stale = heartbeat is None or (timezone.now() - heartbeat.seen_at).total_seconds() > 180
    return render(request, "plans/home.html", {"heartbeat": heartbeat, "worker_stale": worker_stale})
