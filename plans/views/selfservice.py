"""The client's own page, from the link in every email (no login: the signed token is the
credential), and the staff button that withdraws that link.

GET only shows (mail scanners follow links); POST acts, and every POST carries the session's
version the page showed, so a double submit or a page left open acts once.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST

from plans.models import Client
from plans.outbox.links import BadLink
from plans.outbox.timing import local_when
from plans.permissions import public_rate_limited, staff_required
from plans.services import booking, waitlist
from plans.services import selfservice as services


def _refused(request, text: str, status: int = 400) -> HttpResponse:
    return render(request, "plans/public/link.html", {"title": "This link cannot be used", "text": text}, status=status)


def _access(request, token: str):
    try:
        return services.client_access_read(token=token), None
    except BadLink as exc:
        return None, _refused(request, f"{exc} Please call us on {settings.CLINIC_PHONE}.")


def _version(request) -> int:
    try:
        return int(request.POST.get("version", ""))
    except ValueError:
        return -1


def _from_page(url: str, token: str) -> str:
    """A form's link as the page offers it: it names the page it came from, so the form can lead
    back there (services.page_back_path), which the same link read from its email does not."""
    return f"{url}?{urlencode({'page': token})}" if url else ""


@public_rate_limited
@require_http_methods(["GET"])
def client_page(request, token: str) -> HttpResponse:
    access, error = _access(request, token)
    if error:
        return error
    sessions = services.client_sessions(client=access.client)
    forms = services.form_links(client=access.client, sessions=sessions)
    waiting = waitlist.live_entries(client_id=access.client_id)
    rows = [
        {
            "session": s,
            "check_url": _from_page(forms.check_urls.get(s.pk, ""), token),
            "when": local_when(s.starts_at),
            "cancel_refusal": services.change_refusal(session=s, action="cancel"),
            "reschedule_refusal": services.change_refusal(session=s, action="reschedule"),
            "waiting": waiting.get(s.pk),
            # Only asked when the client could join: the window's earliest day costs two queries.
            "can_wait": s.pk not in waiting and not waitlist.join_refusal(session=s),
        }
        for s in sessions
    ]
    context = {
        "client": access.client,
        "rows": rows,
        "token": token,
        "consent_url": _from_page(forms.consent_url, token),
        "policy": settings.CANCELLATION_POLICY_TEXT,
        "cutoff_hours": settings.CANCELLATION_CUTOFF_HOURS,
    }
    return render(request, "plans/public/client_page.html", context)


@public_rate_limited
@require_POST
def client_cancel(request, token: str, session_id: int) -> HttpResponse:
    access, error = _access(request, token)
    if error:
        return error
    try:
        session = services.session_cancel_by_client(access=access, session_id=session_id, version=_version(request))
    except services.ClientActionRefused as exc:
        return _result(request, token, "We could not cancel this appointment", str(exc), status=409)
    text = f"{session.label} on {local_when(session.starts_at)} is cancelled. You will receive a confirmation email."
    return _result(request, token, "Your appointment is cancelled", text)


def _result(request, token: str, title: str, text: str, status: int = 200) -> HttpResponse:
    back = reverse("public-page", args=[token])
    return render(request, "plans/public/link.html", {"title": title, "text": text, "back": back}, status=status)


@public_rate_limited
@require_http_methods(["GET", "POST"])
def client_reschedule(request, token: str, session_id: int) -> HttpResponse:
    access, error = _access(request, token)
    if error:
        return error
    try:
        session = services.client_session(access=access, session_id=session_id)
    except services.ClientActionRefused as exc:
        return _result(request, token, "This appointment cannot be moved", str(exc), status=404)
    if request.method == "POST":
        cascade = None
        if request.POST.get("cascade"):
            cascade = services.parse_shifts(request.POST.getlist("shift"))
        try:
            moved = services.session_reschedule_by_client(
                access=access,
                session_id=session.pk,
                version=_version(request),
                slot=request.POST.get("slot", ""),
                cascade=cascade,
            )
        except booking.CascadeRequired as exc:
            context = {
                "session": session,
                "slot": request.POST.get("slot", ""),
                "version": session.version,
                "shifts": exc.shifts,
                "token": token,
            }
            return render(request, "plans/public/reschedule_cascade.html", context, status=409)
        except services.ClientActionRefused as exc:
            return _result(request, token, "We could not move this appointment", str(exc), status=409)
        text = f"{moved[0].label} is now on {local_when(moved[0].starts_at)}. You will receive an updated invitation."
        for other in moved[1:]:
            text += f" {other.label} moved too: now {local_when(other.starts_at)}."
        return _result(request, token, "Your appointment is moved", text)
    refusal = services.change_refusal(session=session, action="reschedule")
    offers = [] if refusal else services.reschedule_offers(session=session)
    context = {
        "session": session,
        "when": local_when(session.starts_at),
        "refusal": refusal,
        "offers": [{"offer": o, "when": local_when(o.start)} for o in offers],
        "token": token,
        "policy": settings.CANCELLATION_POLICY_TEXT,
    }
    return render(request, "plans/public/reschedule.html", context)


@public_rate_limited
@require_POST
def client_waitlist_join(request, token: str, session_id: int) -> HttpResponse:
    access, error = _access(request, token)
    if error:
        return error
    try:
        entry = waitlist.waitlist_join(access=access, session_id=session_id)
    except services.ClientActionRefused as exc:
        return _result(request, token, "We could not put you on the waitlist", str(exc), status=409)
    text = (
        f"You are on the waitlist for an earlier time for {entry.session.label} "
        f"(now {local_when(entry.session.starts_at)}). When an earlier time that suits your treatment plan "
        "comes free, we will email you; the first to take it gets it. Your appointment stays as it is until then."
    )
    return _result(request, token, "You are on the waitlist", text)


@public_rate_limited
@require_POST
def client_waitlist_leave(request, token: str, session_id: int) -> HttpResponse:
    access, error = _access(request, token)
    if error:
        return error
    try:
        waitlist.waitlist_leave(access=access, session_id=session_id)
    except services.ClientActionRefused as exc:
        return _result(request, token, "We could not take you off the waitlist", str(exc), status=409)
    text = "You are no longer on the waitlist for this appointment. Your appointment stays as it is."
    return _result(request, token, "You left the waitlist", text)


def _offer_page(request, token: str, offer, *, title: str, text: str, status: int = 200, can_take: bool = False):
    session = offer.entry.session
    context = {
        "title": title,
        "text": text,
        "offer": offer,
        "session": session,
        "offer_when": local_when(offer.starts_at),
        "when": local_when(session.starts_at) if session.starts_at else "",
        "expires": local_when(offer.expires_at),
        "can_take": can_take,
        "token": token,
        "page_url": services.live_page_path(client=session.plan.client),
    }
    return render(request, "plans/public/offer.html", context, status=status)


@public_rate_limited
@require_http_methods(["GET", "POST"])
def public_offer(request, token: str) -> HttpResponse:
    """A waitlist offer from its email: GET shows the slot (mail scanners follow links), POST takes it."""
    try:
        offer = waitlist.offer_read(token=token)
    except BadLink as exc:
        return _refused(request, f"{exc} Please call us on {settings.CLINIC_PHONE}.")
    if request.method == "GET":
        if refusal := offer.refusal(now=timezone.now()):
            return _offer_page(request, token, offer, title="This offer is closed", text=refusal, status=410)
        text = f"An earlier time has come free for {offer.entry.session.label}."
        return _offer_page(request, token, offer, title="An earlier time for you", text=text, can_take=True)
    result = waitlist.offer_accept(offer_id=offer.pk)
    if result.session is None:
        text = result.refusal
        if result.kept:
            text += " You keep your appointment and stay on the waitlist: we will email you when another time frees."
        offer.refresh_from_db()
        title = "Someone took it first" if result.taken else "This slot is no longer available"
        return _offer_page(request, token, offer, title=title, text=text, status=409)
    moved = result.session
    text = f"{moved.label} is now on {local_when(moved.starts_at)}. You will receive an updated invitation."
    offer.refresh_from_db()
    return _offer_page(request, token, offer, title="The earlier time is yours", text=text)


@staff_required("plans.change_client")
@require_POST
def client_access_revoke(request, client_id: int) -> HttpResponse:
    client = get_object_or_404(Client, pk=client_id)
    count = services.client_access_revoke(client=client, by=request.user)
    messages.success(request, f"{count} link{'' if count == 1 else 's'} to {client.full_name}'s page withdrawn.")
    return redirect("client-detail", pk=client_id)
