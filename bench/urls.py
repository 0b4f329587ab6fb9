"""The app's URLs plus two empty views, the floors every page is measured against through the same
middleware: one that reads nothing, and one that loads the session and the logged-in user (what
every staff page pays before its own work). Only the benchmark's settings route to these."""

from django.http import HttpResponse
from django.urls import include, path


def empty(request):
    return HttpResponse("ok")


def empty_authenticated(request):
    # Touching request.user reads the session and the user, as a staff page does; nothing else.
    return HttpResponse("ok" if request.user.is_authenticated else "anonymous")


urlpatterns = [
    path("bench/empty/", empty),
    path("bench/empty-authenticated/", empty_authenticated),
    path("", include("clinic.urls")),
]
