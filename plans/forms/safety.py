"""The pre-session check, a hold decision and a review sign-off, as forms. Rules live in services/safety.py."""

from __future__ import annotations

from django import forms

from plans.models import HoldStatus
from plans.recheck import CHECK_QUESTIONS

YES_NO = [("no", "No"), ("yes", "Yes")]


class PreSessionCheckForm(forms.Form):
    """One yes/no per question of the check, each with a detail box for a yes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for q in CHECK_QUESTIONS:
            self.fields[q.code] = forms.ChoiceField(label=q.text, choices=YES_NO, widget=forms.RadioSelect)
            self.fields[f"{q.code}_detail"] = forms.CharField(
                label="If yes: what, and when", max_length=500, required=False
            )

    def rows(self):
        """(answer field, detail field) per question, for the template."""
        return [(self[q.code], self[f"{q.code}_detail"]) for q in CHECK_QUESTIONS]

    def answers(self) -> dict[str, tuple[bool, str]]:
        data = self.cleaned_data
        return {q.code: (data[q.code] == "yes", data.get(f"{q.code}_detail", "")) for q in CHECK_QUESTIONS}


class HoldDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[
            (HoldStatus.CONTINUED, "Continue the plan as it is"),
            (HoldStatus.RECOMPUTED, "Recompute the sessions not booked yet (booked and done ones stay)"),
            (HoldStatus.STOPPED, "Stop the plan (cancels its booked sessions)"),
        ],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(label="What was decided and why", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    cancel_conflicting = forms.BooleanField(
        required=False,
        label="When recomputing: cancel booked sessions that break the new plan's rules",
        help_text="Unticked, they stay booked and the plan page lists them for staff to move.",
    )


class ReviewSignoffForm(forms.Form):
    question_code = forms.CharField(max_length=50, widget=forms.HiddenInput)
    note = forms.CharField(label="What was done", max_length=2000)
