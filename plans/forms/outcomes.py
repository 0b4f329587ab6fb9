"""Forms of the outcome scores: the clinician's pore grade (anchors beside each grade) and GAIS,
and the client's questionnaire. They parse; plans/services/outcomes.py decides."""

from __future__ import annotations

from django import forms

from plans.models import AnswerType, Gais, OutcomeQuestion, PoreGradeAnchor, ScoreMoment


class ScoreForm(forms.Form):
    """Prefixed "score" so it can sit inside the treatment record form. `required=False`: on the
    record form a rating is optional (the session signs off without one, rated later)."""

    prefix = "score"

    pore_grade = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect, label="Pore grade")
    gais = forms.TypedChoiceField(
        coerce=int,
        choices=Gais.choices,
        widget=forms.RadioSelect,
        label="Global aesthetic improvement (GAIS), compared with baseline",
    )
    device_measurement = forms.DecimalField(
        max_digits=8,
        decimal_places=2,
        required=False,
        label="Skin analyser reading (unvalidated, optional)",
        help_text="Recorded as read; never used in the outcome figures.",
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    device_name = forms.CharField(max_length=80, required=False, label="Skin analyser (device name)")
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=2000, required=False, label="Rating notes"
    )

    def __init__(self, *args, moment: str, anchors: list[PoreGradeAnchor], required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.moment = moment
        self.anchors = anchors
        self.fields["pore_grade"].choices = [(a.grade, f"{a.grade} · {a.label}") for a in anchors]
        self.fields["pore_grade"].required = required
        if moment == ScoreMoment.ASSESSMENT:
            self.fields["gais"].required = required
        else:
            del self.fields["gais"]

    @property
    def is_blank(self) -> bool:
        """Nothing rated (the record form's optional rating left empty)."""
        return not self.data.get(self.add_prefix("pore_grade"))

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "moment": self.moment,
            "pore_grade": data["pore_grade"],
            "gais": data.get("gais"),
            "device_measurement": data["device_measurement"],
            "device_name": data["device_name"],
            "notes": data["notes"],
        }


class QuestionnaireForm(forms.Form):
    """One radio group per question, each value a button big enough to tap on a phone."""

    def __init__(self, *args, questions: list[OutcomeQuestion], **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = questions
        for question in questions:
            low, high = question.value_range
            if question.answer_type == AnswerType.YES_NO:
                choices = [(1, "Yes"), (0, "No")]
            else:
                choices = [(v, str(v)) for v in range(low, high + 1)]
            self.fields[question.code] = forms.TypedChoiceField(
                coerce=int,
                choices=choices,
                widget=forms.RadioSelect,
                label=question.text,
                error_messages={"required": "Please choose an answer.", "invalid_choice": "Please choose an answer."},
            )

    def groups(self):
        """(question, bound field) in order, for the template."""
        return [(q, self[q.code]) for q in self.questions]

    def answers(self) -> dict[str, int]:
        return dict(self.cleaned_data)
