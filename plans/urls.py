from django.urls import path

from plans.views import calendar, dashboard

urlpatterns = [
    path("", dashboard.home, name="home"),
    # Booking: calendar, day list, session actions, whole-plan booking, iCalendar feeds.
    path("calendar/", calendar.calendar_page, name="calendar"),
    path("calendar/events.json", calendar.calendar_events, name="calendar-events"),
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
