"""Booking forms: they parse and validate input; the booking service applies the rules."""

from __future__ import annotations

import datetime as dt
import json

from django import forms
from django.utils import timezone

from plans import scheduling
from plans.models import Practitioner, Room, Weekday


class LocalDateTimeField(forms.DateTimeField):
    """A wall-clock time in the clinic's zone, as the calendar sends it (2027-03-01T09:00)."""

    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


class PreferencesForm(forms.Form):
    practitioner = forms.ModelChoiceField(
        queryset=Practitioner.objects.filter(active=True), required=False, empty_label="Any practitioner"
    )
    weekdays = forms.TypedMultipleChoiceField(
        choices=Weekday.choices,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Preferred weekdays",
        help_text="Leave empty for any day.",
    )
    part_of_day = forms.ChoiceField(
        choices=[("any", "Any time"), ("morning", "Morning"), ("afternoon", "Afternoon")],
        initial="any",
        label="Time of day",
    )

    def preferences(self) -> scheduling.Preferences:
        data = self.cleaned_data
        return scheduling.Preferences(
            practitioner_id=data["practitioner"].id if data["practitioner"] else None,
            weekdays=frozenset(data["weekdays"]),
            part_of_day=data["part_of_day"],
        )


class ProposalForm(forms.Form):
    """The proposal shown to the user, sent back by "Book all"; the service re-checks every slot."""

    proposal = forms.CharField(widget=forms.HiddenInput)

    def clean_proposal(self) -> list[scheduling.ProposedBooking]:
        try:
            rows = json.loads(self.cleaned_data["proposal"])
            return [
                scheduling.ProposedBooking(
                    session_key=int(r["session"]),
                    label="",
                    slot=scheduling.Slot(
                        int(r["practitioner"]),
                        int(r["room"]),
                        dt.datetime.fromisoformat(r["start"]),
                        dt.datetime.fromisoformat(r["end"]),
                        dt.datetime.fromisoformat(r["blocked_until"]),
                    ),
                )
                for r in rows
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise forms.ValidationError("The proposal could not be read: make a new one.") from exc


def proposal_json(bookings: list[scheduling.ProposedBooking]) -> str:
    return json.dumps(
        [
            {
                "session": b.session_key,
                "practitioner": b.slot.practitioner_id,
                "room": b.slot.room_id,
                "start": b.slot.start.isoformat(),
                "end": b.slot.end.isoformat(),
                "blocked_until": b.slot.blocked_until.isoformat(),
            }
            for b in bookings
        ]
    )


class SlotForm(forms.Form):
    starts_at = LocalDateTimeField()
    practitioner = forms.ModelChoiceField(queryset=Practitioner.objects.filter(active=True))
    room = forms.ModelChoiceField(
        queryset=Room.objects.filter(active=True), required=False, empty_label="Any free room"
    )
    override_reason = forms.CharField(max_length=255, required=False, label="Reason to override the window")

    def clean_starts_at(self):
        value = self.cleaned_data["starts_at"]
        return value if timezone.is_aware(value) else timezone.make_aware(value)


class RescheduleForm(SlotForm):
    cascade = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_cascade(self):
        from plans.services.booking import ShiftRequest

        raw = self.cleaned_data["cascade"]
        if not raw:
            return None
        try:
            return [ShiftRequest(int(r["session"]), dt.datetime.fromisoformat(r["start"])) for r in json.loads(raw)]
        except (ValueError, KeyError, TypeError) as exc:
            raise forms.ValidationError("The confirmed shifts could not be read: try the move again.") from exc


class CancelForm(forms.Form):
    by_client = forms.TypedChoiceField(
        choices=[("1", "The client"), ("0", "The clinic")],
        coerce=lambda v: v == "1",
        label="Cancelled by",
        widget=forms.RadioSelect,
        initial="1",
    )
    reason = forms.CharField(max_length=255, label="Cancellation reason")


class CompleteForm(forms.Form):
    depth_used_mm = forms.DecimalField(
        max_digits=3, decimal_places=2, required=False, min_value=0, label="Depth used (mm)"
    )
    pore_score = forms.TypedChoiceField(
        choices=[("", "—")] + [(str(i), str(i)) for i in range(1, 6)],
        coerce=int,
        empty_value=None,
        required=False,
        label="Pore score (1 = barely visible, 5 = very visible)",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
