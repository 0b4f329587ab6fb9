"""A URLconf for security tests only: tiny pages behind the project's own decorators, then the real URLs."""

from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path
from simple_history.admin import SimpleHistoryAdmin

from plans.models import Client, Protocol
from plans.permissions import public_rate_limited, staff_required


@public_rate_limited(requests=3, window_seconds=60)
def public_ping(request):
    return HttpResponse("pong")


@public_rate_limited
def public_default(request):
    return HttpResponse("ok")


@staff_required("plans.change_client")
def touch_client(request, client_id):
    """Changes a client without naming the user: the history middleware must record who did it."""
    client = Client.objects.get(pk=client_id)
    client.notes = request.POST["notes"]
    client.save()
    return HttpResponse("saved")


# How plans/admin.py should register audited models: inherit SimpleHistoryAdmin for the History page.
history_admin = admin.AdminSite(name="history_admin")
history_admin.register(Protocol, SimpleHistoryAdmin)

urlpatterns = [
    path("test-admin/", history_admin.urls),
    path("test/clients/<int:client_id>/touch/", touch_client),
    path("public/ping/", public_ping, name="public-ping"),
    path("public/default/", public_default, name="public-default"),
    path("", include("clinic.urls")),
]
