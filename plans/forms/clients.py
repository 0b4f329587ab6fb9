"""The intake form: a client's details and their screening answers, validated by the clients service's rules."""

from __future__ import annotations

import datetime as dt

from crispy_forms.helper import FormHelper
from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from plans.models import Client, ScreeningQuestion
from plans.services import clients as client_services

YES_NO = [("yes", "Yes"), ("no", "No")]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class ClientSearchForm(forms.Form):
    q = forms.CharField(required=False, label="Search", max_length=100)


class ClientRulesMixin:
    """The clients service's rules as field errors, for every form that writes a client (pages and admin).

    The service checks them again when saving; here they become messages next to the field.
    """

    def existing_client_url(self, client: Client) -> str:
        return reverse("client-detail", args=[client.pk])

    def clean_first_name(self) -> str:
        return client_services.clean_name(self.cleaned_data["first_name"])

    def clean_last_name(self) -> str:
        return client_services.clean_name(self.cleaned_data["last_name"])

    def clean_date_of_birth(self) -> dt.date:
        born = self.cleaned_data["date_of_birth"]
        if problem := client_services.date_of_birth_problem(born):
            raise forms.ValidationError(problem)
        return born

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        if existing := client_services.client_with_email(email, exclude=self.instance.pk):
            raise forms.ValidationError(
                format_html(
                    'This email already belongs to <a href="{}">{}</a>: open that record instead of adding the '
                    "client twice (emails are compared regardless of capitals).",
                    self.existing_client_url(existing),
                    existing.full_name,
                )
            )
        return email

    def clean_notes(self) -> str:
        notes = self.cleaned_data["notes"]
        if problem := client_services.notes_problem(notes):
            raise forms.ValidationError(problem)
        return notes


class ScreeningAnswersMixin:
    """One yes/no per active screening question, and a date when the question asks for one,
    initialised from `current_answers` (code -> (answer, date)): the intake form and the
    screening correction share these fields, the table that shows them and their checks."""

    def _add_screening_fields(self, current_answers: dict | None) -> None:
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
    def screening_rows(self):
        return [(self[self.answer_field(q)], self[self.date_field(q)] if q.asks_date else None) for q in self.questions]

    @property
    def screening_table(self) -> list[dict]:
        """One row per question for the compact screening table: the bound answer and date
        fields, and the answer of the client's current screen ("yes", "no", or None when new),
        so a re-screen shows what changed."""
        return [
            {
                "question": q,
                "answer": self[self.answer_field(q)],
                "date": self[self.date_field(q)] if q.asks_date else None,
                "previous": self.fields[self.answer_field(q)].initial,
            }
            for q in self.questions
        ]

    def _clean_screening(self, cleaned: dict) -> None:
        answers = self.screening_answers(cleaned)
        problems = client_services.screening_problems(answers, self.questions, today=timezone.localdate())
        for q in self.questions:
            problem = problems.get(q.code)
            if not problem or self.answer_field(q) in self.errors:
                continue
            target = self.date_field(q) if q.asks_date and "date" in problem else self.answer_field(q)
            self.add_error(target, problem)

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

    def apply_service_errors(self, error) -> None:
        """A ValidationError from the clients service, on the field it names (a question code
        names its answer), else on the form."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        codes = {q.code: q for q in self.questions}
        for field, messages_ in error.message_dict.items():
            name = self.answer_field(codes[field]) if field in codes else field
            self.add_error(name if name in self.fields else None, messages_)


class ClientIntakeForm(ScreeningAnswersMixin, ClientRulesMixin, forms.ModelForm):
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
        widgets = {
            "date_of_birth": DateInput(),
            "notes": forms.Textarea(attrs={"rows": 2, "maxlength": client_services.NOTES_MAX_LENGTH}),
        }

    def __init__(self, *args, current_answers: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self._add_screening_fields(current_answers)

    @property
    def detail_fields(self):
        return [self[name] for name in self.Meta.fields]

    def clean(self):
        cleaned = super().clean()
        self._clean_screening(cleaned)
        return cleaned

    def client_values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class ScreeningCorrectionForm(ScreeningAnswersMixin, forms.Form):
    """A correction of the client's current screen: its answers pre-filled, and why."""

    # The screen the page showed: a correction of one that was meanwhile superseded is refused.
    corrects = forms.IntegerField(widget=forms.HiddenInput)
    correction_reason = forms.CharField(
        label="Why is the screening corrected?",
        max_length=255,
        help_text='Required, e.g. "Misheard: the client is not pregnant". Kept with the new screen.',
        error_messages={"required": "Say why the screening is corrected."},
        widget=forms.TextInput(attrs={"maxlength": 255}),
    )

    def __init__(self, *args, screening, current_answers: dict, **kwargs):
        super().__init__(*args, initial={"corrects": screening.pk}, **kwargs)
        self._add_screening_fields(current_answers)

    def clean(self):
        cleaned = super().clean()
        self._clean_screening(cleaned)
        return cleaned
