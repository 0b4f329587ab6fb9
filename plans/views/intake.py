"""New-client intake: staff invite a person who called, the person fills in their forms from the
emailed link, a clinician reviews them and creates the client. The rules live in services/intake.py.

Front desk takes the first call, so they invite and see the list (names and status); the answers
are health data, shown only to roles with the clinical record.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from plans import selectors
from plans.forms.intake import IntakeInviteForm, IntakeReviewForm, PublicIntakeForm
from plans.models import IntakeInvitation, ScreeningQuestion
from plans.permissions import public_rate_limited, staff_required
from plans.services import intake as intake_services


def _list_page(request, form: IntakeInviteForm, status: int = 200):
    invitations, more = selectors.intake_invitations()
    now = timezone.now()
    rows = [{"invitation": i, "status": i.status(now=now), "label": i.status_label(now=now)} for i in invitations]
    return render(
        request,
        "plans/intake/list.html",
        {
            "rows": rows,
            "more": more,
            "form": form,
            "clinical": request.user.has_perm("plans.view_clinical_record"),
        },
        status=status,
    )


def _errors_on(form, error: ValidationError) -> None:
    """A service's ValidationError on the field it names, else on the form."""
    for field, problems in error.message_dict.items():
        form.add_error(field if field in form.fields else None, problems)


@staff_required("plans.view_intakeinvitation")
def intake_list(request):
    """Invitations sent, completed by the client, needing a call, reviewed; and the invite form."""
    return _list_page(request, IntakeInviteForm())


@staff_required("plans.add_intakeinvitation")
@require_POST
def intake_invite(request):
    form = IntakeInviteForm(request.POST)
    if form.is_valid():
        try:
            invitation = intake_services.intake_invite(**form.cleaned_data, by=request.user)
        except ValidationError as error:
            _errors_on(form, error)
        else:
            messages.success(request, f"The forms were emailed to {invitation.full_name} ({invitation.email}).")
            return redirect("intake-list")
    return _list_page(request, form, status=400)


@staff_required("plans.change_intakeinvitation")
@require_POST
def intake_revoke(request, intake_id: int):
    invitation = get_object_or_404(IntakeInvitation, pk=intake_id)
    try:
        intake_services.intake_revoke(invitation=invitation, by=request.user)
    except intake_services.IntakeRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"The link sent to {invitation.full_name} no longer works.")
    return redirect("intake-list")


def _answers_table(invitation: IntakeInvitation) -> tuple[dict, list[dict]]:
    answers = intake_services.intake_answers(invitation)
    questions = ScreeningQuestion.objects.filter(code__in=list(answers["screening"])).order_by("position", "id")
    acted_on = selectors.screening_codes_the_rules_act_on()
    rows = [
        {
            "question": q,
            "yes": answers["screening"][q.code][0],
            "last": answers["screening"][q.code][1],
            "call": answers["screening"][q.code][0] and q.code in acted_on,
        }
        for q in questions
    ]
    return answers, rows


@staff_required("plans.view_intakeinvitation", "plans.view_clinical_record")
@require_http_methods(["GET", "POST"])
def intake_detail(request, intake_id: int):
    """A completed intake, marked as completed by the client; the clinician adds the Fitzpatrick
    type and creates the client with its screening (POST needs plans.add_client too)."""
    invitation = get_object_or_404(IntakeInvitation.objects.select_related("client", "reviewed_by"), pk=intake_id)
    form = IntakeReviewForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if not request.user.has_perm("plans.add_client"):
            messages.error(request, "Your role does not create client records.")
            status = 403
        elif form.is_valid():
            try:
                client = intake_services.intake_review(invitation=invitation, by=request.user, **form.cleaned_data)
            except intake_services.IntakeRefused as exc:
                form.add_error(None, str(exc))
                status = 409 if exc.conflict else 400
            except ValidationError as error:
                _errors_on(form, error)
                status = 400
            else:
                messages.success(request, f"{client.full_name} was added with the screening they gave.")
                return redirect("client-detail", pk=client.pk)
        else:
            status = 400
        invitation.refresh_from_db()
    answers, rows = _answers_table(invitation) if invitation.submitted_at else (None, [])
    return render(
        request,
        "plans/intake/detail.html",
        {"invitation": invitation, "answers": answers, "rows": rows, "form": form},
        status=status,
    )


# --- The person's link ---------------------------------------------------------------------------


def _link_page(request, *, title: str, text: str, status: int = 200):
    return render(request, "plans/public/link.html", {"title": title, "text": text}, status=status)


@public_rate_limited
@require_http_methods(["GET", "POST"])
def public_intake(request, token: str):
    """The person fills in their details and screening from the emailed link, once."""
    try:
        invitation = intake_services.intake_from_link(token)
    except intake_services.IntakeRefused as exc:
        if exc.conflict:
            return _link_page(request, title="Thank you", text=str(exc), status=409)
        text = f"{exc} Please call us on {settings.CLINIC_PHONE}."
        return _link_page(request, title="This link cannot be used", text=text, status=400)
    form = PublicIntakeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = intake_services.intake_submit(invitation=invitation, **form.submit_values())
        except intake_services.IntakeRefused as exc:
            status = 409 if exc.conflict else 400
            return _link_page(
                request, title="Thank you" if exc.conflict else "This link cannot be used", text=str(exc), status=status
            )
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            if invitation.needs_call:
                text = (
                    "Thank you, we have your answers. One of them means a clinician needs to talk with you "
                    f"before your consultation: we will call you. You can also call us on {settings.CLINIC_PHONE}."
                )
                return render(request, "plans/public/link.html", {"title": "We will call you", "text": text})
            text = "Thank you, we have your answers. We look forward to seeing you at your consultation."
            return _link_page(request, title="Thank you", text=text)
    status = 400 if form.errors else 200
    return render(request, "plans/public/intake.html", {"invitation": invitation, "form": form}, status=status)
