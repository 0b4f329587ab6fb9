"""Pages behind the signed links in emails. No login: the signed token is the credential.

GET only shows what will happen (mail scanners follow links); POST does it. The POSTs are
CSRF-exempt because mail clients' one-click unsubscribe (RFC 8058) posts without a cookie,
and a forged request would need the secret token anyway.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from plans.branding import brand
from plans.forms.outcomes import QuestionnaireForm
from plans.models import ScoreMoment
from plans.outbox.links import BadLink, read_questionnaire_token, read_token
from plans.outbox.timing import local_when
from plans.permissions import public_rate_limited
from plans.services import messages as message_services
from plans.services import outcomes


@require_http_methods(["GET"])
def brand_css(request) -> HttpResponse:
    """The clinic's colours as CSS variables for static/css/public.css: a style sheet, since the
    CSP forbids inline styles, and a view, since the colour is a setting (validated at start-up)."""
    clinic = brand()
    css = (
        f":root {{ --clinic-colour: {clinic.colour}; --clinic-on-colour: {clinic.on_colour}; "
        f"--clinic-ink: {clinic.ink}; }}\n"
    )
    response = HttpResponse(css, content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "public, max-age=3600"
    return response


def _page(request, *, title: str, text: str, status: int = 200, action: str = "", button: str = "", **extra):
    context = {"title": title, "text": text, "action": action, "button": button, **extra}
    return render(request, "plans/public/link.html", context, status=status)


def _target(request, token: str, purpose: str):
    try:
        return read_token(token, purpose), None
    except BadLink as exc:
        text = f"{exc} Please call us on {settings.CLINIC_PHONE}."
        return None, _page(request, title="This link cannot be used", text=text, status=400)


def _when(session) -> str:
    return local_when(session.starts_at) if session.starts_at else ""


@public_rate_limited
@require_http_methods(["GET", "POST"])
def confirm(request, token: str) -> HttpResponse:
    target, error = _target(request, token, "confirm")
    if error:
        return error
    message = target.message
    session = message.session
    if request.method == "GET":
        # The page tells the truth before any click: an email about an older time, or a
        # cancelled appointment, offers nothing to press.
        if refusal := message_services.confirm_refusal(session=session, version=target.session_version):
            return _page(request, title="About this appointment", text=refusal)
        if message.attendance_confirmed_at:
            return _page(request, title="Thank you", text=f"You have confirmed {session.label}: {_when(session)}.")
        return _page(
            request,
            title="Confirm your appointment",
            text=f"{session.label}: {_when(session)}.",
            action=request.path,
            button="Yes, I will attend",
        )
    try:
        message_services.session_confirm_attendance(message=message, version=target.session_version)
    except message_services.LinkActionRefused as exc:
        return _page(request, title="We could not confirm this appointment", text=str(exc), status=409)
    return _page(request, title="Thank you", text=f"We look forward to seeing you on {_when(session)}.")


@public_rate_limited
@require_http_methods(["GET", "POST"])
def cancel(request, token: str) -> HttpResponse:
    target, error = _target(request, token, "cancel")
    if error:
        return error
    session = target.session
    when = _when(session)
    if request.method == "GET":
        if refusal := message_services.cancel_refusal(session=session, version=target.session_version):
            return _page(request, title="About this appointment", text=refusal)
        return _page(
            request,
            title="Cancel your appointment?",
            text=f"{session.label}: {when}.",
            action=request.path,
            button="Cancel this appointment",
            danger=True,
        )
    try:
        message_services.session_cancel_from_link(session=session, version=target.session_version)
    except message_services.LinkActionRefused as exc:
        return _page(request, title="This appointment cannot be cancelled online", text=str(exc), status=409)
    return _page(
        request,
        title="Your appointment is cancelled",
        text=f"{session.label} on {when} is cancelled. You will receive a confirmation email.",
    )


@public_rate_limited
# RFC 8058 one-click unsubscribe: the mail client POSTs "List-Unsubscribe=One-Click" to this URL
# without cookies, so no CSRF token can exist; the signed, single-purpose token authorises it
# and the only effect is to stop emails.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str) -> HttpResponse:
    target, error = _target(request, token, "unsubscribe")
    if error:
        return error
    if request.method == "GET":
        if not target.message.client.email_consent:
            return _page(request, title="You are unsubscribed", text="We no longer send you emails.")
        return _page(
            request,
            title="Stop emails from us?",
            text="You will no longer receive reminders or care notes.",
            action=request.path,
            button="Unsubscribe",
        )
    message_services.client_unsubscribe(client=target.message.client)
    return _page(
        request,
        title="You are unsubscribed",
        text="We will not email you again. Please call the clinic if you change your mind.",
    )


# --- The client's outcome questionnaire ------------------------------------------------------------

RECEIVED = "We already have your answers to this questionnaire: thank you. There is nothing more to do."


@public_rate_limited
@require_http_methods(["GET", "POST"])
def questionnaire(request, token: str) -> HttpResponse:
    """Filled once, from the link in the questionnaire email; no login (the token names the response)."""
    try:
        response = read_questionnaire_token(token)
    except BadLink as exc:
        text = f"{exc} Please call us on {settings.CLINIC_PHONE}."
        return _page(request, title="This link cannot be used", text=text, status=400)
    if response.is_submitted:
        status = 409 if request.method == "POST" else 200
        return _page(request, title="Already received", text=RECEIVED, status=status)
    if refusal := outcomes.questionnaire_refusal(response):
        return _page(request, title="Your questionnaire", text=refusal)
    form = QuestionnaireForm(request.POST or None, questions=outcomes.questions_for(response))
    context = {"response": response, "form": form, "baseline": response.moment == ScoreMoment.BASELINE}
    if request.method == "GET":
        return render(request, "plans/public/questionnaire.html", context)
    if form.is_valid():
        try:
            outcomes.questionnaire_submit(response=response, answers=form.answers(), now=timezone.now())
        except outcomes.QuestionnaireAlreadySubmitted:
            return _page(request, title="Already received", text=RECEIVED, status=409)
        except ValidationError as exc:
            # A question an admin changed while the page was open, or the plan closed meanwhile.
            context["error"] = " ".join(exc.messages)
        else:
            return _page(
                request,
                title="Thank you",
                text="We have your answers. Your practitioner will go through them with you at your next visit.",
            )
    return render(request, "plans/public/questionnaire.html", context, status=400)
