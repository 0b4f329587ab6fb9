from django.urls import path

from plans.views import clients, dashboard, messages, plans, privacy, public

urlpatterns = [
    path("", dashboard.home, name="home"),
    path("clients/", clients.client_list, name="client-list"),
    path("clients/new/", clients.client_create, name="client-create"),
    path("clients/<int:pk>/", clients.client_detail, name="client-detail"),
    path("clients/<int:pk>/edit/", clients.client_edit, name="client-edit"),
    path("clients/<int:client_id>/data/", privacy.client_export, name="client-export"),
    path("clients/<int:client_id>/data.json", privacy.client_export_json, name="client-export-json"),
    path("clients/<int:client_id>/erase/", privacy.client_erase, name="client-erase"),
    path("clients/<int:client_id>/plans/new/", plans.plan_new, name="plan-new"),
    path("plans/<int:pk>/", plans.plan_detail, name="plan-detail"),
    path("plans/<int:pk>/recompute/", plans.plan_recompute, name="plan-recompute"),
    path("messages/", messages.message_list, name="messages"),
    path("messages/<int:message_id>/resend/", messages.message_resend, name="message-resend"),
    path("clients/<int:client_id>/messages/", messages.client_messages, name="client-messages"),
    path("e/confirm/<str:token>/", public.confirm, name="public-confirm"),
    path("e/cancel/<str:token>/", public.cancel, name="public-cancel"),
    path("e/unsubscribe/<str:token>/", public.unsubscribe, name="public-unsubscribe"),
]
