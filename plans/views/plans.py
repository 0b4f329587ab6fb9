"""New plan (preview, then Accept), the plan page and recompute."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from plans import planning
from plans.forms.plans import PlanAcceptForm, PlanOptionsForm
from plans.models import Client, CombinationTreatment, PlanSession, SessionStatus, TreatmentPlan
from plans.permissions import staff_required
from plans.services import plans as plan_services

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


def plan_bars(plan: TreatmentPlan) -> list[Bar]:
    bars = []
    for s in plan.sessions.all():
        booked = timezone.localtime(s.starts_at).date() if s.starts_at else None
        bars.append(
            Bar(
                s.title,
                _session_css(s.kind),
                s.earliest,
                s.latest,
                booked or s.target,
                f"{s.depth_mm} mm" if s.depth_mm is not None else "",
                s.get_status_display(),
            )
        )
    for span in plan.protocol_snapshot.get("plan", {}).get("spans", []):
        bars.append(
            Bar(
                f"{span['name']} (around session {span['anchor_session']})",
                "span",
                dt.date.fromisoformat(span["start"]),
                dt.date.fromisoformat(span["end"]),
            )
        )
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
    data = request.GET if "start" in request.GET else None
    form = PlanOptionsForm(
        data, initial={"start": timezone.localdate()}, combination_choices=_optional_combination_choices()
    )
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
        "screening": plan_services.current_screening(client),
        "token": secrets.token_urlsafe(24),
        "timeline": timeline(proposal_bars(proposal)) if proposal and proposal.ok else None,
    }
    return render(request, "plans/plans/new.html", context)


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
            acknowledge_review=data["acknowledge_review"],
            request_token=data["token"],
        )
    except plan_services.PlanRefused as refusal:
        messages.error(request, str(refusal))
        return redirect(_preview_url(client, data["start"], data["combinations"]))
    messages.success(request, f"Plan accepted: {plan.params.name} for {client.full_name}.")
    return redirect("plan-detail", pk=plan.pk)


# --- The plan page and recompute -----------------------------------------------------------------


def _is_recomputable(plan: TreatmentPlan) -> bool:
    return plan.status == "active" and not any(
        s.status in (SessionStatus.BOOKED, SessionStatus.COMPLETED) for s in plan.sessions.all()
    )


@staff_required("plans.view_treatmentplan")
def plan_detail(request, pk: int):
    plan = get_object_or_404(
        TreatmentPlan.objects.select_related(
            "client", "protocol", "created_by", "review_acknowledged_by"
        ).prefetch_related(Prefetch("sessions", queryset=PlanSession.objects.order_by("sequence"))),
        pk=pk,
    )
    snapshot = plan.protocol_snapshot
    recompute_form = PlanOptionsForm(
        initial={"start": plan.requested_start, "combinations": plan.selected_combinations},
        combination_choices=[(c.id, c.name) for c in plan.params.optional_combinations],
    )
    care = snapshot.get("plan", {}).get("care_schedule", [])
    context = {
        "plan": plan,
        "client": plan.client,
        "snapshot_json": json.dumps(plan.params.to_snapshot(), indent=2),
        "care_schedule": [{**c, "day": dt.date.fromisoformat(c["day"])} for c in care],
        "timeline": timeline(plan_bars(plan)),
        "recomputable": _is_recomputable(plan),
        "recompute_form": recompute_form,
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
            acknowledge_review=request.POST.get("acknowledge_review") == "on",
        )
    except (plan_services.PlanRefused, plan_services.PlanLocked) as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, "The plan was recomputed from the new start and choices.")
    return redirect("plan-detail", pk=pk)
