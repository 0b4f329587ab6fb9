"""Rendering an outbox row into the email the client receives (multipart text + HTML, .ics).

Content is read at send time from the session as it is then, so the email always states the
current time; delivery has already checked that the message still stands. What differs by
kind comes from the table in kinds.py and the kind's own templates.
"""

from __future__ import annotations

import datetime as dt
import re

import css_inline
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from plans import ics
from plans.branding import brand
from plans.models import Message, SessionStatus
from plans.outbox.kinds import family_of
from plans.outbox.links import link_url
from plans.outbox.timing import local_when
from plans.services.selfservice import client_page_url

# Mail clients ignore <style> blocks (Gmail's app, Outlook) or strip them, so the layout's CSS is
# copied onto every element once per rendered email. @media rules cannot be inlined and stay in
# the head for the clients that honour them (the fluid layout below 600 px). Nothing is fetched.
_INLINER = css_inline.CSSInliner(keep_style_tags=False, keep_at_rules=True, load_remote_stylesheets=False)


def _actions(context: dict) -> list[dict]:
    """The buttons an email offers, in the order a client would take them: one list for the HTML
    buttons and the plain-text lines, so both parts always offer the same things."""
    offered = (
        ("offer_url", "Take this slot", True),
        ("questionnaire_url", "Answer a few short questions", True),
        ("intake_url", "Fill in your forms", True),
        ("confirm_url", "Confirm you will attend", True),
        ("sign_url", "Read and sign your consent", True),
        ("check_url", "Answer the pre-visit questions", True),
        ("client_page_url", "Manage your appointments", False),
        ("cancel_url", "Cancel this appointment", False),
    )
    return [
        {"label": label, "url": context[key], "primary": primary} for key, label, primary in offered if context.get(key)
    ]


def inline_css(html: str) -> str:
    return _INLINER.inline(html)


def _session_context(message: Message, now: dt.datetime, client_page: str | None) -> dict:
    """What an email about a client's session offers: its time, its links, the client's page."""
    family = family_of(message)
    session = message.session
    can_change = family.offers_links and session.status == SessionStatus.BOOKED
    when = local_when(session.starts_at, now=now) if session.starts_at else ""
    return {
        "session": session,
        "label": session.label,
        "when": when,
        "appointments": [{"label": session.label, "when": when, "cancel_url": ""}],
        "confirm_url": link_url(message, "confirm") if can_change else "",
        "cancel_url": link_url(message, "cancel") if can_change else "",
        "unsubscribe_url": link_url(message, "unsubscribe"),
        # Every email links to the client's own page (appointments, moves, forms).
        "client_page_url": client_page or client_page_url(client=message.client, now=now),
    }


def _context(message: Message, now: dt.datetime, client_page: str | None = None) -> dict:
    family = family_of(message)
    # An intake invitation is about no session and goes to someone with no client page yet:
    # one email they asked for on the phone, so no appointment, links or unsubscribe line.
    about = _session_context(message, now, client_page) if message.session_id else {}
    context = {
        "kind": family.name,
        "client": message.recipient,
        **about,
        "cutoff_hours": settings.CANCELLATION_CUTOFF_HOURS,
        "clinic_name": settings.CLINIC_NAME,
        "clinic_address": settings.CLINIC_ADDRESS,
        "clinic_phone": settings.CLINIC_PHONE,
        "brand": brand(),
        **family.content(message, now),
    }
    context["actions"] = _actions(context)
    return context


def build_email(
    message: Message, *, now: dt.datetime, message_id: str, client_page: str | None = None
) -> EmailMultiAlternatives:
    """client_page: the client's page link when the caller read it already (a worker's batch)."""
    family = family_of(message)
    context = _context(message, now, client_page)
    subject = " ".join(render_to_string(f"emails/{family.name}.subject.txt", context).split())
    headers = {"Message-ID": message_id}
    if context.get("unsubscribe_url"):
        headers["List-Unsubscribe"] = f"<{context['unsubscribe_url']}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    headers["Auto-Submitted"] = "auto-generated"
    email = EmailMultiAlternatives(
        subject=subject,
        # Optional blocks leave runs of blank lines; a reader sees paragraphs, never gaps.
        body=re.sub(r"\n{3,}", "\n\n", render_to_string(f"emails/{family.name}.txt", context)),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.recipient_email],
        headers=headers,
    )
    email.attach_alternative(inline_css(render_to_string(f"emails/{family.name}.html", context)), "text/html")
    if family.invitation and context.get("invite"):
        calendar = ics.calendar_for(context["invite"], cancel=family.invitation == "CANCEL", stamp=now)
        email.attach("appointment.ics", calendar.decode(), "text/calendar")
    return email
