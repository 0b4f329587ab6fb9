from django.urls import path

from plans.views import dashboard, privacy

urlpatterns = [
    path("", dashboard.home, name="home"),
    path("clients/<int:client_id>/data/", privacy.client_export, name="client-export"),
    path("clients/<int:client_id>/data.json", privacy.client_export_json, name="client-export-json"),
    path("clients/<int:client_id>/erase/", privacy.client_erase, name="client-erase"),
]
