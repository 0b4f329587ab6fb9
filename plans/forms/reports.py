"""The outcomes report's filters: plan start between two dates, and one practitioner."""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row, Submit
from django import forms

from plans.forms.clients import DateInput
from plans.forms.fields import BoundedDateField
from plans.models import Practitioner
from plans.reports import ReportFilters


class ReportFilterForm(forms.Form):
    start_from = BoundedDateField(required=False, label="Plans started from", widget=DateInput())
    start_to = BoundedDateField(required=False, label="to", widget=DateInput())
    practitioner = forms.ModelChoiceField(
        # Inactive practitioners too: last year's plans were treated by people who have left.
        queryset=Practitioner.objects.order_by("display_name"),
        required=False,
        empty_label="Every practitioner",
        help_text="Plans with a session given by them.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_method = "get"
        self.helper.form_id = "report-filters"
        self.helper.layout = Layout(
            Row(
                Column("start_from", css_class="col-sm-6 col-lg-3"),
                Column("start_to", css_class="col-sm-6 col-lg-3"),
                Column("practitioner", css_class="col-sm-8 col-lg-4"),
                Column(Submit("apply", "Show", css_class="mt-lg-4"), css_class="col-sm-4 col-lg-2"),
            )
        )

    def clean(self):
        cleaned = super().clean()
        start_from, start_to = cleaned.get("start_from"), cleaned.get("start_to")
        if start_from and start_to and start_from > start_to:
            self.add_error("start_to", "The end of the range must not be before its start.")
        return cleaned

    def filters(self) -> ReportFilters:
        data = self.cleaned_data
        practitioner = data.get("practitioner")
        return ReportFilters(
            start_from=data.get("start_from"),
            start_to=data.get("start_to"),
            practitioner_id=practitioner.pk if practitioner else None,
        )
