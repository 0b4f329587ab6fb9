"""Consent pages: signing on the clinic's tablet (witnessed), the signed record and its PDF, withdrawal;
and the client's signed-link pages to sign at home or withdraw. The rules live in services/consent.py.

The signed text, the signature and where it was signed from are part of the clinical record:
front desk sees only whether a consent is on file (the client page and Today say so).
"""

from __future__ import annotations

import base64

from django.conf import settings
from django.contrib import messages
from django.contrib.staticfiles import finders
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from plans import selectors
from plans.forms.consent import SignForm, WithdrawForm
from plans.models import Client, ConsentKind, SignedConsent
from plans.outbox.links import BadLink, read_token
from plans.permissions import client_ip, public_rate_limited, staff_required
from plans.services import consent as consent_services
from plans.services import selfservice
from plans.services.privacy import record_access_log


def _sign(request, form: SignForm, sign) -> str:
    """'' when signed; else the reason, for the page."""
    if not form.is_valid():
        return "Tick that the consent was read, then sign in the box."
    try:
        png = consent_services.signature_from_data_url(form.cleaned_data["signature"])
        sign(
            version_id=form.cleaned_data["version_id"],
            signature_png=png,
            ip_address=client_ip(request) or None,
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    except consent_services.ConsentRefused as exc:
        return str(exc)
    return ""


def _signing_context(version, form, **extra) -> dict:
    # From the emailed link the client reads the page in the clinic's look, without the staff menu.
    base = "plans/public/base.html" if extra.get("public") else "base.html"
    return {
        "version": version,
        "form": form,
        "photo": version.template.kind == ConsentKind.PHOTO,
        "base": base,
        **extra,
    }


@staff_required("plans.view_clinical_record")
@require_http_methods(["GET", "POST"])
def consent_sign(request, client_id: int, kind: str):
    """The client signs on the clinic's tablet; the logged-in staff member is the witness."""
    client = get_object_or_404(Client, pk=client_id, erased_at__isnull=True)
    if kind not in ConsentKind.values:
        raise Http404("No such consent form.")
    try:
        version = consent_services.current_version(kind)
    except consent_services.ConsentRefused as exc:
        messages.error(request, str(exc))
        return redirect("client-detail", pk=client.pk)
    photo = kind == ConsentKind.PHOTO
    form = SignForm(request.POST or None, photo=photo, initial={"version_id": version.pk})
    error = ""
    if request.method == "POST":

        def sign(**kwargs):
            uses = form.cleaned_data.get("photo_uses", []) if photo else ()
            consent_services.consent_sign_in_clinic(
                client=client, kind=kind, witness=request.user, photo_uses=uses, **kwargs
            )

        if not (error := _sign(request, form, sign)):
            messages.success(request, f"{ConsentKind(kind).label} signed by {client.full_name}.")
            return redirect("client-detail", pk=client.pk)
    status = 400 if error else 200
    context = _signing_context(version, form, client=client, error=error, witness=request.user)
    return render(request, "plans/consent/sign.html", context, status=status)


def _consent(consent_id: int) -> SignedConsent:
    return get_object_or_404(
        SignedConsent.objects.select_related("client", "version__template", "witness", "withdrawal__recorded_by"),
        pk=consent_id,
    )


def _record_context(consent: SignedConsent) -> dict:
    png = base64.b64encode(bytes(consent.signature_png)).decode()
    return {"consent": consent, "signature_src": f"data:image/png;base64,{png}", "CLINIC_NAME": settings.CLINIC_NAME}


@staff_required("plans.view_clinical_record")
def consent_detail(request, consent_id: int):
    consent = _consent(consent_id)
    record_access_log(user=request.user, client=consent.client, action="view")
    context = _record_context(consent) | {"withdraw_form": WithdrawForm()}
    return render(request, "plans/consent/detail.html", context)


@staff_required("plans.view_clinical_record")
def consent_pdf(request, consent_id: int):
    """The signed consent as a PDF (WeasyPrint): the text, its hash, the signature and who witnessed it."""
    from weasyprint import CSS, HTML  # imported here: it loads Pango, which only this page needs

    consent = _consent(consent_id)
    record_access_log(user=request.user, client=consent.client, action="export")
    html = render_to_string("plans/consent/pdf.html", _record_context(consent) | {"printed_at": timezone.now()})
    stylesheet = CSS(filename=finders.find("css/consent_pdf.css"))
    # No base URL: the page refers to nothing outside itself (the signature is inline), so nothing is fetched.
    pdf = HTML(string=html).write_pdf(stylesheets=[stylesheet])
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="consent-{consent.pk}-{consent.kind}.pdf"'
    return response


@staff_required("plans.view_clinical_record")
@require_POST
def consent_withdraw(request, consent_id: int):
    """Staff record that the client withdrew a consent (by phone, in person, in writing)."""
    consent = _consent(consent_id)
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say how the client withdrew their consent.")
        return redirect("consent-detail", consent_id=consent.pk)
    try:
        consent_services.consent_withdraw(consent=consent, by=request.user, reason=form.cleaned_data["reason"])
    except consent_services.ConsentRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{consent.get_kind_display()} withdrawn.")
    return redirect("consent-detail", consent_id=consent.pk)


# --- The client's signed links -------------------------------------------------------------------


def _link_page(request, *, title: str, text: str, status: int = 200, **extra):
    context = {"title": title, "text": text, **extra}
    return render(request, "plans/public/link.html", context, status=status)


def _refused(request, text: str, status: int = 400, back: str = ""):
    return _link_page(
        request,
        title="This link cannot be used",
        text=f"{text} Please call us on {settings.CLINIC_PHONE}.",
        status=status,
        back=back,
    )


@public_rate_limited
@require_http_methods(["GET", "POST"])
def public_consent(request, token: str):
    """Read and sign the treatment consent at home, once, from the link emailed before session 1."""
    try:
        target = read_token(token, "consent")
    except BadLink as exc:
        return _refused(request, str(exc))
    message = target.message
    # Opened from the client's page: every page after this one leads back there.
    back = selfservice.page_back_path(token=request.GET.get("page", ""), client_id=message.client_id)
    if refusal := consent_services.remote_refusal(message):
        return _refused(request, refusal, status=409 if request.method == "POST" else 400, back=back)
    version = consent_services.current_version(ConsentKind.TREATMENT)
    form = SignForm(request.POST or None, initial={"version_id": version.pk})
    error = ""
    if request.method == "POST":

        def sign(**kwargs):
            consent_services.consent_sign_remote(message=message, **kwargs)

        error = _sign(request, form, sign)
        if not error:
            return _link_page(
                request,
                title="Thank you",
                text="Your consent is signed. We look forward to seeing you. You can withdraw it at any time "
                "with the link in the same email, or by calling us.",
                back=back,
            )
        if SignedConsent.objects.filter(request_message_id=message.pk).exists():
            return _refused(request, error, status=409, back=back)
    context = _signing_context(version, form, client=message.client, error=error, public=True, back=back)
    return render(request, "plans/consent/sign.html", context, status=400 if error else 200)


@public_rate_limited
@require_http_methods(["GET", "POST"])
def public_withdraw(request, token: str):
    """Withdraw the treatment consent with the link in the consent email. GET only asks (mail scanners follow links)."""
    try:
        target = read_token(token, "withdraw")
    except BadLink as exc:
        return _refused(request, str(exc))
    client = target.message.client
    status = selectors.consent_status(client=client, kind=ConsentKind.TREATMENT)
    if status.state != "current":
        return _link_page(request, title="Your consent", text="There is no treatment consent in force to withdraw.")
    if request.method == "GET":
        return _link_page(
            request,
            title="Withdraw your treatment consent?",
            text="We will not carry out further microneedling sessions until you sign a new consent. "
            "Your booked appointments stay until we have spoken with you.",
            action=request.path,
            button="Withdraw my consent",
            danger=True,
        )
    try:
        consent_services.consent_withdraw_from_link(message=target.message)
    except consent_services.ConsentRefused as exc:
        return _refused(request, str(exc), status=409)
    return _link_page(
        request,
        title="Your consent is withdrawn",
        text="We have recorded it. We will call you about your appointments; "
        f"you can reach us on {settings.CLINIC_PHONE}.",
    )
