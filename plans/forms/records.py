"""Forms of the clinical record: completing a session (the treatment record for microneedling),
addenda, adverse events, a clinician's clearance, a lot recall. They parse; services decide."""

from __future__ import annotations

import datetime as dt

from django import forms

from plans import selectors
from plans.forms.fields import BoundedDateField
from plans.models import (
    AdverseEventType,
    CheckResult,
    Endpoint,
    Lot,
    LotKind,
    PlanSession,
    SessionKind,
    Severity,
)
from plans.services.booking import RecordInput, record_zones


class CompleteForm(forms.Form):
    """Completing a session. For microneedling it is the treatment record the practitioner signs
    off: device, lots, depth per zone (the plan's zones), passes...; for an assessment visit
    (the PIH check) what it found."""

    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, label="Practitioner's notes")
    above_plan_reason = forms.CharField(
        max_length=500,
        required=False,
        label="Clinician's reason, if a zone is deeper than its cap or the plan",
        help_text="Only a clinician may go above a zone's cap or the session's planned depth.",
    )

    def __init__(self, *args, session: PlanSession, today: dt.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.session = session
        self.zones = record_zones(session) if session.kind == SessionKind.MICRONEEDLING else []
        if self.zones:
            self._add_record_fields(today)
        if session.is_assessment:
            self.fields["pih_result"] = forms.ChoiceField(
                choices=[("", "—"), *CheckResult.choices],
                label="PIH seen at this check",
                help_text="Anything but none is recorded as an adverse event; moderate or severe holds the plan.",
            )

    def _add_record_fields(self, today: dt.date) -> None:
        devices, cartridges, products = selectors.usable_kit(today=today)
        fields = {
            "device": forms.ModelChoiceField(queryset=devices),
            "cartridge": forms.ModelChoiceField(
                queryset=Lot.objects.filter(kind=LotKind.CARTRIDGE), label="Needle cartridge lot"
            ),
        }
        for i, (zone, cap) in enumerate(self.zones):
            fields[f"zone_{i}"] = forms.DecimalField(
                max_digits=3,
                decimal_places=2,
                min_value=0,
                required=False,
                widget=forms.NumberInput(attrs={"step": "0.05", "inputmode": "decimal"}),
                label=f"{zone.capitalize()} depth (mm)",
                help_text=f"Cap {cap.normalize():f} mm; planned {self.session.depth_mm or '—'} mm. Empty: not treated.",
            )
        fields |= {
            "passes": forms.IntegerField(min_value=1, max_value=10),
            "endpoint": forms.ChoiceField(choices=[("", "—"), *Endpoint.choices], label="Clinical endpoint reached"),
            "product": forms.ModelChoiceField(
                queryset=Lot.objects.filter(kind=LotKind.PRODUCT), required=False, label="Glide serum or product lot"
            ),
            "anaesthetic": forms.CharField(max_length=150, required=False, label="Topical anaesthetic"),
            "anaesthetic_minutes": forms.IntegerField(
                min_value=1, max_value=240, required=False, label="Anaesthetic contact time (minutes)"
            ),
            "immediate_reaction": forms.CharField(
                widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Immediate reaction"
            ),
        }
        # Offered: lots neither expired nor recalled. Accepted for checking: any lot of the kind,
        # so a stale page naming a lot recalled since gets the service's clear refusal.
        fields["cartridge"].widget.choices = [("", "---------"), *((lot.pk, str(lot)) for lot in cartridges)]
        fields["product"].widget.choices = [("", "---------"), *((lot.pk, str(lot)) for lot in products)]
        ordered = {**fields, **self.fields}
        self.fields = ordered

    def record_input(self) -> RecordInput | None:
        if not self.zones:
            return None
        data = self.cleaned_data
        depths = {zone: data[f"zone_{i}"] for i, (zone, _cap) in enumerate(self.zones)}
        return RecordInput(
            device=data["device"],
            cartridge=data["cartridge"],
            product=data["product"],
            zones={zone: depth for zone, depth in depths.items() if depth is not None},
            passes=data["passes"],
            endpoint=data["endpoint"],
            anaesthetic=data["anaesthetic"],
            anaesthetic_minutes=data["anaesthetic_minutes"],
            immediate_reaction=data["immediate_reaction"],
            notes=data["notes"],
        )

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "record": self.record_input(),
            "notes": data["notes"],
            "above_plan_reason": data["above_plan_reason"],
            "pih_result": data.get("pih_result", ""),
        }


class AddendumForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000, label="Addendum")


class AdverseEventForm(forms.Form):
    type = forms.ChoiceField(choices=[("", "—"), *AdverseEventType.choices])
    severity = forms.ChoiceField(choices=[("", "—"), *Severity.choices])
    onset_on = BoundedDateField(label="Onset", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    action_taken = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=5000, required=False)
    follow_up_on = BoundedDateField(
        label="Follow-up", required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )


class ClearForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        label="Clinician's note",
        help_text="Why further microneedling may go ahead.",
    )


class ResolveForm(forms.Form):
    resolved_on = BoundedDateField(
        label="Resolved on", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
