from django.urls import path

from plans.views import calendar, clients, dashboard, messages, plans, privacy, public, safety

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
    # Clinical safety: holds a clinician decides, review items a clinician signs off, the pre-session check.
    path("plans/<int:pk>/holds/<int:hold_id>/decide/", safety.plan_hold_decide, name="plan-hold-decide"),
    path("plans/<int:pk>/review/signoff/", safety.plan_review_signoff, name="plan-review-signoff"),
    path("sessions/<int:pk>/check/", safety.session_check, name="session-check"),
    path("messages/", messages.message_list, name="messages"),
    path("messages/<int:message_id>/resend/", messages.message_resend, name="message-resend"),
    path("clients/<int:client_id>/messages/", messages.client_messages, name="client-messages"),
    path("e/confirm/<str:token>/", public.confirm, name="public-confirm"),
    path("e/cancel/<str:token>/", public.cancel, name="public-cancel"),
    path("e/unsubscribe/<str:token>/", public.unsubscribe, name="public-unsubscribe"),
    path("e/check/<str:token>/", safety.public_check, name="public-check"),
    # Booking: calendar, day list, session actions, whole-plan booking, iCalendar feeds.
    path("calendar/", calendar.calendar_page, name="calendar"),
    path("calendar/events.json", calendar.calendar_events, name="calendar-events"),
    path("calendar/closed.json", calendar.calendar_closed, name="calendar-closed"),
    path("calendar/bookable.json", calendar.calendar_bookable, name="calendar-bookable"),
    path("calendar/day/", calendar.day_list, name="day-list"),
    path("calendar/feed/", calendar.feed_settings, name="calendar-feed"),
    path("sessions/<int:pk>/", calendar.session_panel, name="session-panel"),
    path("sessions/<int:pk>/book/", calendar.session_book, name="session-book"),
    path("sessions/<int:pk>/reschedule/", calendar.session_reschedule, name="session-reschedule"),
    path("sessions/<int:pk>/cancel/", calendar.session_cancel, name="session-cancel"),
    path("sessions/<int:pk>/no-show/", calendar.session_no_show, name="session-no-show"),
    path("sessions/<int:pk>/complete/", calendar.session_complete, name="session-complete"),
    path("plans/<int:pk>/book/", calendar.plan_book, name="plan-book"),
    path("feeds/<str:token>.ics", calendar.practitioner_feed, name="practitioner-feed"),
]
