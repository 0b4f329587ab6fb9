"""Rendering an outbox row into the email the client receives (multipart text + HTML, .ics).

Content is read at send time from the session as it is then, so the email always states the
current time; delivery has already checked that the message still stands. What differs by
kind comes from the table in kinds.py and the kind's own templates.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from plans import ics
from plans.models import Message, SessionStatus
from plans.outbox.kinds import family_of
from plans.outbox.links import link_url
from plans.outbox.timing import local_when
from plans.services.selfservice import client_page_url


def _context(message: Message, now: dt.datetime) -> dict:
    family = family_of(message)
    session = message.session
    can_change = family.offers_links and session.status == SessionStatus.BOOKED
    when = local_when(session.starts_at, now=now) if session.starts_at else ""
    return {
        "kind": family.name,
        "client": message.client,
        "session": session,
        "label": session.label,
        "when": when,
        "appointments": [{"label": session.label, "when": when, "cancel_url": ""}],
        "confirm_url": link_url(message, "confirm") if can_change else "",
        "cancel_url": link_url(message, "cancel") if can_change else "",
        "unsubscribe_url": link_url(message, "unsubscribe"),
        # Every email links to the client's own page (appointments, moves, forms).
        "client_page_url": client_page_url(client=message.client, now=now),
        "cutoff_hours": settings.CANCELLATION_CUTOFF_HOURS,
        "clinic_name": settings.CLINIC_NAME,
        "clinic_address": settings.CLINIC_ADDRESS,
        "clinic_phone": settings.CLINIC_PHONE,
        **family.content(message, now),
    }


def build_email(message: Message, *, now: dt.datetime, message_id: str) -> EmailMultiAlternatives:
    family = family_of(message)
    context = _context(message, now)
    subject = " ".join(render_to_string(f"emails/{family.name}.subject.txt", context).split())
    email = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{family.name}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.client.email],
        headers={
            "Message-ID": message_id,
            "List-Unsubscribe": f"<{context['unsubscribe_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )
    email.attach_alternative(render_to_string(f"emails/{family.name}.html", context), "text/html")
    if family.invitation and context.get("invite"):
        calendar = ics.calendar_for(context["invite"], cancel=family.invitation == "CANCEL", stamp=now)
        email.attach("appointment.ics", calendar.decode(), "text/calendar")
    return email
