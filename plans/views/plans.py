"""New plan (preview, then Accept), the plan page and recompute."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from plans import planning, reports, selectors
from plans.cohorts import Cohort
from plans.forms.plans import PlanAcceptForm, PlanOptionsForm
from plans.forms.safety import HoldDecisionForm
from plans.models import Client, CombinationTreatment, ConsentKind, ScoreMoment, TreatmentPlan
from plans.permissions import staff_required
from plans.services import plans as plan_services
from plans.services import safety as safety_services

# --- Timeline ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    label: str
    css: str  # mn | combination | follow_up | span | care
    start: dt.date
    end: dt.date
    target: dt.date | None = None
    detail: str = ""
    status: str = ""


def timeline(bars: list[Bar]) -> dict:
    """Positions (in % of the plan's span) for a pure HTML/CSS timeline: one row per bar, month ticks on top."""
    if not bars:
        return {"rows": [], "months": []}
    first = min(b.start for b in bars) - dt.timedelta(days=3)
    last = max(b.end for b in bars) + dt.timedelta(days=3)
    span = (last - first).days + 1

    def pct(day: dt.date) -> float:
        return round((day - first).days / span * 100, 2)

    rows = [
        {
            "bar": b,
            "left": pct(b.start),
            "width": max(round(((b.end - b.start).days + 1) / span * 100, 2), 0.6),
            "marker": pct(b.target) if b.target else None,
        }
        for b in bars
    ]
    months = []
    day = dt.date(first.year, first.month, 1)
    while day <= last:
        if day >= first:
            months.append({"label": day.strftime("%b %Y"), "left": pct(day)})
        day = planning.add_months(day, 1)
    return {"rows": rows, "months": months}


def _session_css(kind: str) -> str:
    return {"microneedling": "mn", "combination": "combination", "follow_up": "follow_up"}[kind]


def proposal_bars(proposal: planning.PlanProposal) -> list[Bar]:
    bars = [
        Bar(
            s.title,
            _session_css(s.kind),
            s.earliest,
            s.latest,
            s.target,
            f"{s.depth_mm} mm" if s.depth_mm is not None else "",
        )
        for s in proposal.sessions
    ]
    bars += [Bar(f"{s.name} (around session {s.anchor_session})", "span", s.start, s.end) for s in proposal.spans]
    return sorted(bars, key=lambda b: (b.target or b.start, b.css != "mn"))


def plan_bars(now: selectors.PlanNow, *, clinical: bool) -> list[Bar]:
    """The plan as it is: sessions on their booked (else target) days, cancelled ones left out; home
    spans around those days. Depths and home treatments are clinical: front desk sees the visits only."""
    bars = [
        Bar(
            row.session.label,
            _session_css(row.session.kind),
            row.session.earliest,
            row.session.latest,
            row.day,
            f"{row.session.depth_mm} mm" if clinical and row.session.depth_mm is not None else "",
            row.session.get_status_display(),
        )
        for row in now.sessions
        if row.taking_place
    ]
    if clinical:
        bars += [Bar(f"{s.name} (around session {s.anchor_session})", "span", s.start, s.end) for s in now.layout.spans]
    return sorted(bars, key=lambda b: (b.target or b.start, b.css != "mn"))


# --- New plan: preview and Accept ---------------------------------------------------------------


def _optional_combination_choices():
    return list(CombinationTreatment.objects.filter(optional=True).values_list("id", "name"))


def _preview_url(client: Client, start, combinations) -> str:
    query = urlencode({"start": start.isoformat(), "combinations": list(combinations)}, doseq=True)
    return f"{reverse('plan-new', args=[client.pk])}?{query}"


@staff_required("plans.add_treatmentplan", "plans.view_clinical_record")
def plan_new(request, client_id: int):
    client = get_object_or_404(Client, pk=client_id)
    if request.method == "POST":
        return _plan_accept(request, client)
    # The first visit previews the first start that leaves room for the pre-care schedule; any
    # other start (today included, with its late pre-care warning) stays one click away.
    suggestion = None if "start" in request.GET else plan_services.plan_suggested_start(client=client)
    data = {"start": suggestion.start.isoformat()} if suggestion else request.GET
    form = PlanOptionsForm(data, combination_choices=_optional_combination_choices())
    proposal = None
    selected: list[int] = []
    if form.is_valid():
        selected = form.cleaned_data["combinations"]
        proposal = plan_services.plan_preview(client=client, start=form.cleaned_data["start"], combinations=selected)
    context = {
        "client": client,
        "form": form,
        "proposal": proposal,
        "selected": selected,
        "start_reason": suggestion.reason if suggestion and proposal else "",
        "today": timezone.localdate(),
        "screening": selectors.client_current_screening(client),
        "token": secrets.token_urlsafe(24),
        "timeline": timeline(proposal_bars(proposal)) if proposal and proposal.ok else None,
        "evidence": _evidence(client, proposal),
    }
    return render(request, "plans/plans/new.html", context)


def _evidence(client: Client, proposal: planning.PlanProposal | None) -> reports.Evidence | None:
    """How clients like this one did on the chosen protocol here (one query), for the rationale."""
    if proposal is None or proposal.protocol is None or proposal.is_hard_stop:
        return None
    return reports.evidence_for(
        protocol_id=proposal.protocol.id,
        protocol_name=proposal.protocol.name,
        cohort=Cohort.of(client, proposal.requested_start),
    )


def _inline_signoffs(request) -> dict[str, str]:
    """A clinician making the plan signs off review items on the same form: `signoff-<code>` = what was done."""
    return {
        key.removeprefix("signoff-"): value
        for key, value in request.POST.items()
        if key.startswith("signoff-") and value.strip()
    }


def _plan_accept(request, client: Client):
    form = PlanAcceptForm(request.POST, combination_choices=_optional_combination_choices())
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
        return redirect("plan-new", client_id=client.pk)
    data = form.cleaned_data
    try:
        plan = plan_services.plan_create(
            client=client,
            start=data["start"],
            combinations=data["combinations"],
            created_by=request.user,
            signoffs=_inline_signoffs(request),
            request_token=data["token"],
        )
    except plan_services.PlanRefused as refusal:
        messages.error(request, str(refusal))
        return redirect(_preview_url(client, data["start"], data["combinations"]))
    messages.success(request, f"Plan accepted: {plan.params.name} for {client.full_name}.")
    return redirect("plan-detail", pk=plan.pk)


# --- The plan page and recompute -----------------------------------------------------------------


@staff_required("plans.view_treatmentplan")
def plan_detail(request, pk: int):
    plan = get_object_or_404(selectors.plan_for_page(pk), pk=pk)
    # Computed once: every clinical part of the page (screening review, depths, protocol, care notes,
    # home treatments) is left out of the context for a role without the clinical record.
    clinical = request.user.has_perm("plans.view_clinical_record")
    now = selectors.plan_now(plan)
    context = {
        "plan": plan,
        "client": plan.client,
        "now": now,
        "clinical": clinical,
        "timeline": timeline(plan_bars(now, clinical=clinical)),
        "can_book": plan.is_bookable and request.user.has_perm("plans.book_sessions"),
        "safety": safety_services.plan_safety(plan, clinical=clinical),
        "consent": selectors.consent_status(client=plan.client, kind=ConsentKind.TREATMENT),
        "decision_form": HoldDecisionForm(),
        "can_recompute": plan.is_recomputable
        and request.user.has_perms(["plans.change_treatmentplan", "plans.view_clinical_record"]),
    }
    if clinical:
        context |= {
            "snapshot_json": json.dumps(plan.params.to_snapshot(), indent=2),
            # Stored warnings describe the plan as proposed; late pre-care is recomputed from today.
            "warnings": [
                *(w for w in plan.warnings if not w.startswith(planning.LATE_PRE_CARE)),
                *now.layout.problems,
                *([now.late_pre_care_warning] if now.late_pre_care else []),
            ],
            "recompute_form": PlanOptionsForm(
                initial={"start": plan.requested_start, "combinations": plan.selected_combinations},
                combination_choices=[(c.id, c.name) for c in plan.params.optional_combinations],
            ),
        }
    if clinical and request.user.has_perm("plans.view_outcomescore"):
        outcomes = selectors.plan_outcomes([plan.pk])[plan.pk]
        context |= {
            "outcomes": outcomes,
            "outcome_rows": [(m, label, outcomes.scores.get(m)) for m, label in ScoreMoment.choices],
        }
    return render(request, "plans/plans/detail.html", context)


@staff_required("plans.change_treatmentplan", "plans.view_clinical_record")
@require_POST
def plan_recompute(request, pk: int):
    plan = get_object_or_404(TreatmentPlan, pk=pk)
    form = PlanOptionsForm(request.POST, combination_choices=_optional_combination_choices())
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
        return redirect("plan-detail", pk=pk)
    try:
        plan_services.plan_recompute(
            plan=plan,
            start=form.cleaned_data["start"],
            combinations=form.cleaned_data["combinations"],
            by=request.user,
        )
    except (plan_services.PlanRefused, plan_services.PlanLocked) as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, "The plan was recomputed from the new start and choices.")
    return redirect("plan-detail", pk=pk)
