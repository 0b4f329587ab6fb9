"""Today: the landing page of every staff role, each seeing what it may."""

from django.shortcuts import render
from django.utils import timezone

from plans import worklist
from plans.outbox.health import outbox_health
from plans.permissions import staff_required


@staff_required()
def home(request):
    """The day's appointments and the worklist. The page polls itself every 45 seconds with
    htmx; such a request gets only the live part, read in the same fixed number of queries."""
    clinical = request.user.has_perm(worklist.CLINICAL_PERMISSION)
    now = timezone.now()
    health = outbox_health(now)
    context = {
        "health": health,
        "failed_messages": health.failed,
        "today": timezone.localdate(now),
        "days": worklist.today_appointments(day=timezone.localdate(now), clinical=clinical, now=now),
        "groups": worklist.worklist(clinical=clinical, now=now),
        "clinical": clinical,
    }
    template = "plans/_today_live.html" if request.htmx else "plans/home.html"
    return render(request, template, context)
