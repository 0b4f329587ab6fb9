"""A URLconf used only by the rate-limit tests: a tiny public page behind @public_rate_limited."""

from django.http import HttpResponse
from django.urls import include, path

from plans.permissions import public_rate_limited


@public_rate_limited(requests=3, window_seconds=60)
def public_ping(request):
    return HttpResponse("pong")


@public_rate_limited
def public_default(request):
    return HttpResponse("ok")


urlpatterns = [
    path("public/ping/", public_ping, name="public-ping"),
    path("public/default/", public_default, name="public-default"),
    path("", include("clinic.urls")),
]
