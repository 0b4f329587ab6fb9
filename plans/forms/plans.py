"""Forms for previewing, accepting and recomputing a plan."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from plans.forms.clients import DateInput
from plans.forms.fields import BoundedDateField


class PlanOptionsForm(forms.Form):
    """The start date and the optional combinations offered by the protocol the engine chose."""

    start = BoundedDateField(label="Requested start", widget=DateInput())
    combinations = forms.TypedMultipleChoiceField(
        label="Optional combination treatments",
        required=False,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, combination_choices=(), allow_past: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["combinations"].choices = list(combination_choices)
        self.allow_past = allow_past

    def clean_start(self) -> dt.date:
        start = self.cleaned_data["start"]
        if not self.allow_past and start < timezone.localdate():
            raise forms.ValidationError("The start date is in the past.")
        return start


class PlanAcceptForm(PlanOptionsForm):
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)
