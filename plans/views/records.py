"""The clinical record after the visit: a session's treatment record (fill in and sign off,
then read, print and add addenda), adverse events and a clinician's clearance, the clients
treated with a recalled lot. Rules live in services/booking.py (sign-off) and services/records.py."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from plans import selectors
from plans.forms.outcomes import ScoreForm
from plans.forms.records import AddendumForm, AdverseEventForm, ClearForm, CompleteForm, ResolveForm
from plans.models import AdverseEvent, Client, Lot, OutcomeScore, PlanSession, ScoreMoment, SessionKind
from plans.permissions import staff_required
from plans.services import outcomes, records
from plans.services.booking import BookingError
from plans.services.privacy import record_access_log
from plans.views.calendar import _form_error, _session, wants_json

CLINICAL = "plans.view_clinical_record"


def record_page(request, session: PlanSession, form: CompleteForm | None = None, *, score_form=None, status: int = 200):
    """The record: the form to sign off while the session can be completed, else what was signed.
    Session 1 and the follow-up also rate the outcome: inside the sign-off form, or, once the
    session is done, in a form of its own (a re-rating corrects the score, its history kept)."""
    record = selectors.session_record(session)
    record_access_log(user=request.user, client=session.plan.client, action="view")
    context = {
        "session": session,
        "record": record,
        "refusal": "" if record else session.refusal("complete"),
        "form": None,
        "addendum_form": AddendumForm() if record else None,
        "events": list(session.adverse_events.all()),
    }
    if record is None and not context["refusal"]:
        context["form"] = form or CompleteForm(session=session, today=timezone.localdate())
    if moment := session.score_moment:
        context |= _score_context(request, session, moment, inside=context["form"] is not None, form=score_form)
    return render(request, "plans/records/record.html", context, status=status)


def _score_context(request, session: PlanSession, moment: str, *, inside: bool, form) -> dict:
    anchors = selectors.pore_grade_anchors()
    score = OutcomeScore.objects.filter(plan_id=session.plan_id, moment=moment).select_related("rated_by").first()
    context = {"score": score, "score_inside": inside, "moment_label": ScoreMoment(moment).label}
    if request.user.has_perm(outcomes.RATE_PERMISSION) and (
        inside or not outcomes.rating_refusal(plan=session.plan, moment=moment)
    ):
        context["score_form"] = form or ScoreForm(
            initial=_score_initial(score), moment=moment, anchors=anchors, required=not inside
        )
    return context


def _score_initial(score: OutcomeScore | None) -> dict:
    if score is None:
        return {}
    return {
        "pore_grade": score.pore_grade,
        "gais": score.gais,
        "device_measurement": score.device_measurement,
        "device_name": score.device_name,
        "notes": score.notes,
    }


@staff_required("plans.view_plansession", CLINICAL)
@require_http_methods(["GET"])
def session_record(request, pk: int):
    session = _session(pk)
    if session.kind != SessionKind.MICRONEEDLING and not session.score_moment:
        return redirect("session-panel", pk=session.pk)
    return record_page(request, session)


@staff_required(outcomes.RATE_PERMISSION, CLINICAL)
@require_POST
def session_score(request, pk: int):
    """Rate (or re-rate) the outcome at session 1 or the follow-up, once it may be rated."""
    session = _session(pk)
    if not session.score_moment:
        raise Http404("This visit rates no outcome.")
    form = ScoreForm(request.POST, moment=session.score_moment, anchors=selectors.pore_grade_anchors())
    error, status = "", 200
    if not form.is_valid():
        error, status = _form_error(form), 400
    else:
        try:
            outcomes.score_record(plan=session.plan, session=session, rated_by=request.user, **form.service_kwargs())
        except ValidationError as exc:
            error = " ".join(exc.messages)
            status = {"forbidden": 403, "too_early": 409}.get(getattr(exc, "code", ""), 400)
    if wants_json(request):
        body = {"ok": not error, "message": error or "Outcome score saved."}
        return JsonResponse(body | ({"error": error} if error else {}), status=status)
    if error:
        messages.error(request, error)
        return record_page(request, session, score_form=form, status=status)
    messages.success(request, f"{ScoreMoment(session.score_moment).label} score saved.")
    return redirect("session-record", pk=session.pk)


@staff_required("plans.add_recordaddendum", CLINICAL)
@require_POST
def record_addendum(request, pk: int):
    session = _session(pk)
    record = selectors.session_record(session)
    form = AddendumForm(request.POST)
    if record is None:
        messages.error(request, "The session has no signed record yet.")
    elif not form.is_valid():
        messages.error(request, _form_error(form))
    else:
        try:
            records.record_addendum_add(record=record, text=form.cleaned_data["text"], by=request.user)
        except BookingError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Addendum added.")
    return redirect("session-record", pk=session.pk)


# --- Adverse events --------------------------------------------------------------------------------


@staff_required("plans.add_adverseevent", CLINICAL)
@require_http_methods(["GET", "POST"])
def adverse_event_new(request, client_id: int):
    client = get_object_or_404(Client, pk=client_id, erased_at__isnull=True)
    session = None
    if raw := request.GET.get("session") or request.POST.get("session"):
        session = PlanSession.objects.filter(pk=raw if str(raw).isdigit() else 0, plan__client=client).first()
    form = AdverseEventForm(request.POST or None, initial={"onset_on": timezone.localdate()})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                event = records.adverse_event_record(
                    client=client, session=session, by=request.user, **form.cleaned_data
                )
            except BookingError as exc:
                messages.error(request, str(exc))
                status = 400
            else:
                messages.success(request, f"Adverse event recorded for {client}.")
                return redirect("adverse-event", event_id=event.pk)
        else:
            messages.error(request, _form_error(form))
            status = 400
    return render(
        request,
        "plans/records/adverse_event_new.html",
        {"client": client, "session": session, "form": form},
        status=status,
    )


@staff_required("plans.view_adverseevent", CLINICAL)
def adverse_event_detail(request, event_id: int):
    event = get_object_or_404(
        AdverseEvent.objects.select_related("client", "session", "recorded_by", "cleared_by"), pk=event_id
    )
    record_access_log(user=request.user, client=event.client, action="view")
    context = {
        "event": event,
        "clear_form": ClearForm() if event.holds_plan else None,
        "resolve_form": ResolveForm(initial={"resolved_on": timezone.localdate()}) if not event.is_resolved else None,
    }
    return render(request, "plans/records/adverse_event.html", context)


def _answer(request, event: AdverseEvent, *, ok: str = "", error: str = "", code: str = "", status: int = 200):
    if wants_json(request):
        body = {"ok": not error, "message": ok or error}
        if error:
            body |= {"error": error, "code": code or "refused"}
        return JsonResponse(body, status=status)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, ok)
    return redirect("adverse-event", event_id=event.pk)


# Any clinical role may ask; the service refuses everyone but a clinician (code needs_clinician).
@staff_required("plans.view_adverseevent", CLINICAL)
@require_POST
def adverse_event_clear(request, event_id: int):
    event = get_object_or_404(AdverseEvent, pk=event_id)
    form = ClearForm(request.POST)
    if not form.is_valid():
        return _answer(request, event, error=_form_error(form), code="invalid", status=400)
    try:
        records.adverse_event_clear(event=event, note=form.cleaned_data["note"], by=request.user)
    except BookingError as exc:
        status = 403 if exc.code == "needs_clinician" else 409 if exc.code == "busy" else 400
        return _answer(request, event, error=str(exc), code=exc.code, status=status)
    return _answer(request, event, ok="Cleared: further microneedling may go ahead.")


@staff_required("plans.change_adverseevent", CLINICAL)
@require_POST
def adverse_event_resolve(request, event_id: int):
    event = get_object_or_404(AdverseEvent, pk=event_id)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        return _answer(request, event, error=_form_error(form), code="invalid", status=400)
    try:
        records.adverse_event_resolve(event=event, on=form.cleaned_data["resolved_on"], by=request.user)
    except BookingError as exc:
        return _answer(request, event, error=str(exc), code=exc.code, status=400)
    return _answer(request, event, ok="Resolution date recorded.")


# --- Lot recall ----------------------------------------------------------------------------------------


@staff_required("plans.change_lot", CLINICAL)
def lot_treated(request, lot_id: int):
    """Who was treated with a lot, with their contact details, for the clinic to call after a recall."""
    lot = get_object_or_404(Lot.objects.select_related("recalled_by"), pk=lot_id)
    rows = selectors.lot_treated_clients(lot)
    return render(
        request,
        "plans/records/lot_treated.html",
        {"lot": lot, "rows": rows, "admin_url": reverse("admin:plans_lot_change", args=[lot.pk])},
    )
