"""The new-client intake: the invitation staff send, the form the person fills in from the link,
and what the clinician adds on review. The person's form is the staff intake's fields and checks
(ClientRulesMixin, ScreeningAnswersMixin), worded for the person answering."""

from __future__ import annotations

from django import forms

from plans.forms.clients import ClientRulesMixin, DateInput, ScreeningAnswersMixin
from plans.models import Client
from plans.services import clients as client_services
from plans.services.intake import PHONE_MAX_LENGTH


class IntakeInviteForm(forms.Form):
    first_name = forms.CharField(max_length=100)
    last_name = forms.CharField(max_length=100)
    email = forms.EmailField(help_text="The link to the forms is sent here.")
    phone = forms.CharField(max_length=PHONE_MAX_LENGTH, required=False)


class PublicIntakeForm(ScreeningAnswersMixin, ClientRulesMixin, forms.ModelForm):
    """Date of birth, phone, email consent, the person's own view of their skin, and the screening."""

    class Meta:
        model = Client
        fields = ["date_of_birth", "phone", "email_consent", "oiliness", "pore_concern"]
        labels = {
            "date_of_birth": "Your date of birth",
            "phone": "The best number to call you on",
            "email_consent": "You may email me reminders and aftercare notes",
            "oiliness": "How oily is your skin, in your own view?",
            "pore_concern": "How much do your pores bother you?",
        }
        widgets = {"date_of_birth": DateInput()}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, instance=Client(), **kwargs)
        self.fields["oiliness"].choices = [("", "Choose…"), *self.fields["oiliness"].choices[1:]]
        self.fields["pore_concern"].choices = [("", "Choose…"), *self.fields["pore_concern"].choices[1:]]
        self._add_screening_fields(None)

    def clean(self):
        cleaned = super().clean()
        self._clean_screening(cleaned)
        return cleaned

    def _post_clean(self):
        # The instance is never saved (the Client is created on review, with the Fitzpatrick type
        # this form does not ask): skip the model's own validation of fields it does not have.
        pass

    def submit_values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields} | {"screening": self.screening_answers()}


class IntakeReviewForm(ClientRulesMixin, forms.ModelForm):
    """What only staff assess, added when the client record is created from the forms."""

    class Meta:
        model = Client
        fields = ["fitzpatrick", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2, "maxlength": client_services.NOTES_MAX_LENGTH})}
