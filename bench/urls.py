"""The app's URLs plus an empty view: the baseline every page is measured against, through the same middleware."""

from django.http import HttpResponse
from django.urls import include, path


def empty(request):
    return HttpResponse("ok")


urlpatterns = [path("bench/empty/", empty), path("", include("clinic.urls"))]
