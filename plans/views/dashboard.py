from django.shortcuts import render

from plans.outbox.health import outbox_health
from plans.permissions import staff_required


@staff_required()
def home(request):
    health = outbox_health()
    return render(request, "plans/home.html", {"health": health, "failed_messages": health.failed})
