"""Signing and withdrawing a consent, as forms. The rules (a real signature, the current version) live in
services/consent.py."""

from __future__ import annotations

from django import forms

from plans.models import PhotoUse
from plans.services.consent import MAX_SIGNATURE_BYTES


class SignForm(forms.Form):
    # The version the page showed: the service refuses the signature if the form changed since.
    version_id = forms.IntegerField(widget=forms.HiddenInput)
    # The signature pad's PNG as a data URL (base64 is 4/3 of the bytes, plus the prefix).
    signature = forms.CharField(widget=forms.HiddenInput, max_length=MAX_SIGNATURE_BYTES * 4 // 3 + 64, required=False)
    has_read = forms.BooleanField(
        label="I have read this consent and had the chance to ask questions.",
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )

    def __init__(self, *args, photo: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if photo:
            self.fields["photo_uses"] = forms.MultipleChoiceField(
                label="I agree to photographs being used for (tick each one you agree to):",
                choices=PhotoUse.choices,
                widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
                required=False,
            )


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="How did the client withdraw?",
        max_length=500,
        help_text="E.g. 'by phone on 3 May, does not want further sessions'.",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
