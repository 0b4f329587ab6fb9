"""The intake form: a client's details and their screening answers, validated by the clients service's rules."""

from __future__ import annotations

import datetime as dt

from crispy_forms.helper import FormHelper
from django import forms
from django.utils import timezone

from plans.models import Client, ScreeningQuestion
from plans.services import clients as client_services

YES_NO = [("yes", "Yes"), ("no", "No")]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class ClientSearchForm(forms.Form):
    q = forms.CharField(required=False, label="Search", max_length=100)


class ClientIntakeForm(forms.ModelForm):
    """Details plus one yes/no per active screening question, and a date when the question asks for one."""

    class Meta:
        model = Client
        fields = [
            "first_name",
            "last_name",
            "date_of_birth",
            "email",
            "phone",
            "email_consent",
            "fitzpatrick",
            "oiliness",
            "pore_concern",
            "notes",
        ]
        widgets = {"date_of_birth": DateInput(), "notes": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, current_answers: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.questions = list(ScreeningQuestion.objects.filter(active=True))
        current_answers = current_answers or {}
        for q in self.questions:
            answer, last = current_answers.get(q.code, (None, None))
            self.fields[self.answer_field(q)] = forms.ChoiceField(
                label=q.text,
                help_text=q.help_text,
                choices=YES_NO,
                widget=forms.RadioSelect(attrs={"class": "form-check-inline"}),
                initial=None if answer is None else ("yes" if answer else "no"),
                error_messages={"required": "Answer yes or no."},
            )
            if q.asks_date:
                self.fields[self.date_field(q)] = forms.DateField(
                    label="If yes: when did it last happen?",
                    required=False,
                    widget=DateInput(),
                    initial=last,
                )

    @staticmethod
    def answer_field(q: ScreeningQuestion) -> str:
        return f"screen_{q.code}"

    @staticmethod
    def date_field(q: ScreeningQuestion) -> str:
        return f"screen_{q.code}_date"

    @property
    def detail_fields(self):
        return [self[name] for name in self.Meta.fields]

    @property
    def screening_rows(self):
        return [(self[self.answer_field(q)], self[self.date_field(q)] if q.asks_date else None) for q in self.questions]

    def clean_date_of_birth(self) -> dt.date:
        born = self.cleaned_data["date_of_birth"]
        if problem := client_services.date_of_birth_problem(born):
            raise forms.ValidationError(problem)
        return born

    def clean(self):
        cleaned = super().clean()
        answers = self.screening_answers(cleaned)
        problems = client_services.screening_problems(answers, self.questions, today=timezone.localdate())
        for q in self.questions:
            problem = problems.get(q.code)
            if not problem or self.answer_field(q) in self.errors:
                continue
            target = self.date_field(q) if q.asks_date and "date" in problem else self.answer_field(q)
            self.add_error(target, problem)
        return cleaned

    def screening_answers(self, cleaned: dict | None = None) -> dict[str, tuple[bool, dt.date | None]]:
        cleaned = self.cleaned_data if cleaned is None else cleaned
        answers = {}
        for q in self.questions:
            raw = cleaned.get(self.answer_field(q))
            if raw not in ("yes", "no"):
                continue
            yes = raw == "yes"
            last = cleaned.get(self.date_field(q)) if q.asks_date else None
            answers[q.code] = (yes, last if yes else None)
        return answers

    def client_values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}
