from django.urls import path

from plans.views import dashboard, messages, public

urlpatterns = [
    path("", dashboard.home, name="home"),
    path("messages/", messages.message_list, name="messages"),
    path("messages/<int:pk>/resend/", messages.message_resend, name="message-resend"),
    path("clients/<int:client_id>/messages/", messages.client_messages, name="client-messages"),
    path("e/confirm/<str:token>/", public.confirm, name="public-confirm"),
    path("e/cancel/<str:token>/", public.cancel, name="public-cancel"),
    path("e/unsubscribe/<str:token>/", public.unsubscribe, name="public-unsubscribe"),
]
