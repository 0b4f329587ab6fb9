"""Clinical safety pages: the pre-session check (staff and the client's signed link), a
clinician's decision on a held plan, and review sign-offs. The rules live in services/safety.py."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from plans.forms.safety import HoldDecisionForm, PreSessionCheckForm, ReviewSignoffForm
from plans.models import ClinicalHold, TreatmentPlan
from plans.outbox.links import BadLink, read_token
from plans.permissions import public_rate_limited, staff_required
from plans.services import safety as safety_services
from plans.services import selfservice
from plans.services.booking import BookingError
from plans.views.calendar import _back, _session


def _record(request, form: PreSessionCheckForm, session, by) -> str:
    """'' when recorded; else the reason, for the page."""
    if not form.is_valid():
        return "Answer every question."
    try:
        safety_services.pre_session_check_record(session=session, answers=form.answers(), by=by)
    except ValidationError as exc:
        for code, errors in exc.message_dict.items():
            form.add_error(f"{code}_detail" if f"{code}_detail" in form.fields else None, errors)
        return "Some answers need a detail."
    except BookingError as exc:
        return str(exc)
    return ""


# Answers are health data: the same permissions as reading the screening.
@staff_required("plans.add_presessioncheck", "plans.view_clinical_record")
@require_http_methods(["GET", "POST"])
def session_check(request, pk: int):
    """Staff record the client's answers at check-in."""
    session = _session(pk)
    refusal = safety_services.check_refusal(session)
    form = PreSessionCheckForm(request.POST or None)
    if request.method == "POST" and not refusal:
        if not (error := _record(request, form, session, request.user)):
            messages.success(request, f"Pre-session check recorded for {session.plan.client}.")
            # Back where check-in came from (Today), else the appointment.
            return _back(request, reverse("session-panel", args=[session.pk]))
        messages.error(request, error)
    back = request.POST.get("next") or request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, require_https=request.is_secure()):
        back = ""
    context = {"session": session, "form": form, "refusal": refusal, "next": back}
    return render(request, "plans/safety/check.html", context)


@staff_required("plans.make_clinical_decision", "plans.view_clinical_record")
@require_POST
def plan_hold_decide(request, pk: int, hold_id: int):
    hold = get_object_or_404(ClinicalHold, pk=hold_id, plan_id=pk)
    form = HoldDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a decision and say why.")
        return redirect("plan-detail", pk=pk)
    data = form.cleaned_data
    try:
        decided = safety_services.hold_decide(
            hold=hold,
            decision=data["decision"],
            note=data["note"],
            by=request.user,
            cancel_conflicting=data["cancel_conflicting"],
        )
    except BookingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Decision recorded.")
        for why in getattr(decided, "recompute_conflicts", []):
            what = "Cancelled" if data["cancel_conflicting"] else "Still booked, move it"
            messages.warning(request, f"{what}: {why}")
    return redirect("plan-detail", pk=pk)


@staff_required("plans.make_clinical_decision", "plans.view_clinical_record")
@require_POST
def plan_review_signoff(request, pk: int):
    plan = get_object_or_404(TreatmentPlan, pk=pk)
    form = ReviewSignoffForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say what was done about the item.")
        return redirect("plan-detail", pk=pk)
    try:
        safety_services.review_signoff(
            plan=plan, question_code=form.cleaned_data["question_code"], note=form.cleaned_data["note"], by=request.user
        )
    except BookingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Review item signed off.")
    return _back(request, f"/plans/{pk}/")


@public_rate_limited
@require_http_methods(["GET", "POST"])
def public_check(request, token: str) -> HttpResponse:
    """The client answers the pre-session check from the reminder's signed link, once."""
    try:
        target = read_token(token, "check")
    except BadLink as exc:
        text = f"{exc} Please call us on {settings.CLINIC_PHONE}."
        return render(
            request, "plans/public/link.html", {"title": "This link cannot be used", "text": text}, status=400
        )
    session = target.session
    # Opened from the client's page: every page after this one leads back there.
    back = selfservice.page_back_path(token=request.GET.get("page", ""), client_id=target.message.client_id)
    refusal = safety_services.check_refusal(session)
    if not refusal and session.version != target.session_version:
        refusal = "Your appointment has moved since this email: please use the link in the newest email."
    form = PreSessionCheckForm(request.POST or None)
    if refusal:
        context = {"title": "Before your appointment", "text": refusal, "back": back}
        return render(request, "plans/public/link.html", context)
    if request.method == "POST":
        if not (error := _record(request, form, session, None)):
            text = "We have your answers. If anything changes before your visit, please tell us."
            return render(request, "plans/public/link.html", {"title": "Thank you", "text": text, "back": back})
        context = {"session": session, "form": form, "error": error, "back": back}
        return render(request, "plans/public/check.html", context, status=400)
    return render(request, "plans/public/check.html", {"session": session, "form": form, "back": back})
