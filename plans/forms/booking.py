"""Booking forms: they parse and validate input; the booking service applies the rules."""

from __future__ import annotations

import json

from django import forms

from plans import scheduling
from plans.forms.fields import MAX_ID, BoundedLocalDateTimeField, parse_aware
from plans.models import Practitioner, Room, Weekday


def _row_id(value) -> int:
    """A positive database id from JSON: refuses bools, floats, text that is not a number, and overflow."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("not an id")
    if isinstance(value, str) and not value.isascii():
        raise ValueError("not an id")
    number = int(value)
    if not 0 < number <= MAX_ID:
        raise ValueError("id out of range")
    return number


def _json_rows(raw: str) -> list[dict]:
    """A JSON list of objects; deep nesting raises RecursionError in the decoder, so it counts as unreadable."""
    try:
        rows = json.loads(raw)
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError("not a list of rows")
    return rows


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
            bookings = [
                scheduling.ProposedBooking(
                    session_key=_row_id(r["session"]),
                    label="",
                    slot=scheduling.Slot(
                        _row_id(r["practitioner"]),
                        _row_id(r["room"]),
                        parse_aware(r["start"]),
                        parse_aware(r["end"]),
                        parse_aware(r["blocked_until"]),
                    ),
                )
                for r in _json_rows(self.cleaned_data["proposal"])
            ]
            for b in bookings:
                if not b.slot.start < b.slot.end <= b.slot.blocked_until:
                    raise ValueError("a slot that ends before it starts")
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            raise forms.ValidationError("The proposal could not be read: make a new one.") from exc
        if not bookings or len({b.session_key for b in bookings}) != len(bookings):
            raise forms.ValidationError("The proposal could not be read: make a new one.")
        return bookings


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
    starts_at = BoundedLocalDateTimeField()
    practitioner = forms.ModelChoiceField(queryset=Practitioner.objects.filter(active=True))
    room = forms.ModelChoiceField(
        queryset=Room.objects.filter(active=True), required=False, empty_label="Any free room"
    )
    override_reason = forms.CharField(max_length=255, required=False, label="Reason to override the window")


class RescheduleForm(SlotForm):
    cascade = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_cascade(self):
        from plans.services.booking import ShiftRequest

        raw = self.cleaned_data["cascade"]
        if not raw:
            return None
        try:
            return [ShiftRequest(_row_id(r["session"]), parse_aware(r["start"])) for r in _json_rows(raw)]
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
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
