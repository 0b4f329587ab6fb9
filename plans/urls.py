from django.urls import path

from plans.views import dashboard

urlpatterns = [
    path("", dashboard.home, name="home"),
]
