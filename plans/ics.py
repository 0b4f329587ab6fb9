"""iCalendar (.ics) invitations for sessions, built with the icalendar library.

One VEVENT per session with a stable UID, so calendar apps update the same entry when the
session is rescheduled (SEQUENCE = session.version) and remove it on METHOD:CANCEL.
Times carry the clinic's TZID with its VTIMEZONE, so 09:00 stays 09:00 across clock changes.
"""

from __future__ import annotations

import datetime as dt
import functools
from email.utils import parseaddr

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event, Timezone, vCalAddress, vText

from plans.clock import clinic_zone
from plans.models import PlanSession


def session_uid(session: PlanSession) -> str:
    return f"session-{session.pk}@{settings.NOTIFICATIONS_DOMAIN}"


def _event(session: PlanSession, *, cancelled: bool, stamp: dt.datetime) -> Event:
    zone = clinic_zone()
    client = session.plan.client
    event = Event()
    event.add("uid", session_uid(session))
    event.add("sequence", session.version)
    event.add("dtstamp", stamp.astimezone(dt.UTC))
    event.add("dtstart", timezone.localtime(session.starts_at, zone))
    event.add("dtend", timezone.localtime(session.ends_at, zone))
    event.add("summary", f"{session.title} at {settings.CLINIC_NAME}")
    event.add("location", settings.CLINIC_ADDRESS)
    event.add("description", f"{settings.CLINIC_NAME}, {settings.CLINIC_ADDRESS}. Phone {settings.CLINIC_PHONE}.")
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    organizer = vCalAddress(f"mailto:{address}")
    organizer.params["cn"] = vText(name or settings.CLINIC_NAME)
    event.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{client.email}")
    attendee.params["cn"] = vText(client.full_name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    event.add("attendee", attendee)
    return event


@functools.lru_cache(maxsize=32)
def _vtimezone(tzid: str, first_year: int, last_year: int) -> bytes:
    """The zone's VTIMEZONE for whole years, built and serialised once per process: building one
    walks the zone's transitions, and folding its lines again for every email cost as much as
    the rest of the invitation."""
    zone = Timezone.from_tzid(tzid, first_date=dt.date(first_year, 1, 1), last_date=dt.date(last_year + 1, 1, 1))
    return zone.to_ical()


def _with_timezone(calendar: Calendar, sessions) -> bytes:
    """The calendar serialised with the clinic zone's rules for the years its events fall in (not
    1970-2038: a compact file), ahead of the events, as RFC 5545 asks."""
    years = [s.starts_at.year for s in sessions if s.starts_at] or [timezone.now().year]
    rules = _vtimezone(settings.CLINIC_TIME_ZONE, min(years) - 1, max(years) + 1)
    body = calendar.to_ical()
    marker = b"BEGIN:VEVENT" if b"BEGIN:VEVENT" in body else b"END:VCALENDAR"
    head, _, tail = body.partition(marker)
    return head + rules + marker + tail


def calendar_for(sessions: list[PlanSession], *, cancel: bool = False, stamp: dt.datetime | None = None) -> bytes:
    """METHOD:REQUEST for booked sessions, METHOD:CANCEL for a cancelled one."""
    calendar = Calendar()
    calendar.add("prodid", f"-//{settings.CLINIC_NAME}//Clinic plans//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancel else "REQUEST")
    for session in sessions:
        calendar.add_component(_event(session, cancelled=cancel, stamp=stamp or timezone.now()))
    return _with_timezone(calendar, sessions)


def practitioner_feed(practitioner, sessions) -> bytes:
    """A practitioner's subscription feed: the same UIDs as the client invitations.

    The feed URL is a bearer secret that calendar services fetch and store, so events name
    the client by first name and initial only: enough to recognise, little to leak.
    """
    zone = clinic_zone()
    calendar = Calendar()
    calendar.add("prodid", f"-//{settings.CLINIC_NAME}//Clinic plans//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"{settings.CLINIC_NAME}: {practitioner.display_name}")
    sessions = list(sessions)
    for session in sessions:
        client = session.plan.client
        event = Event()
        event.add("uid", session_uid(session))
        event.add("sequence", session.version)
        event.add("dtstamp", session.updated_at.astimezone(dt.UTC))
        event.add("dtstart", timezone.localtime(session.starts_at, zone))
        event.add("dtend", timezone.localtime(session.ends_at, zone))
        event.add("summary", f"{client.first_name} {client.last_name[:1]}.: {session.title}".strip())
        event.add("status", "CANCELLED" if session.status == "cancelled" else "CONFIRMED")
        if session.room:
            event.add("location", session.room.name)
        calendar.add_component(event)
    return _with_timezone(calendar, sessions)
