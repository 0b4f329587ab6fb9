"""A client's data: the human-readable export, the JSON download, and erasure (clinic admins)."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render

from plans.models import AccessAction, Client, RecordAccess
from plans.permissions import staff_required
from plans.services import privacy


class ErasureForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="E.g. the client's written request and its date. Kept in the access log.",
    )
    confirm = forms.BooleanField(
        label="I understand that the client's name, contact details, screening answers and notes "
        "are removed for good and cannot be restored.",
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Give the reason for the erasure.")
        return reason


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _for_display(record: dict[str, Any]) -> dict[str, Any]:
    """Split an exported record into its own fields, its nested rows, and its history, for the template."""
    fields, children = [], []
    for name, value in record.items():
        if name == "history":
            continue
        if isinstance(value, list) and all(isinstance(item, dict) for item in value) and name != "rationale":
            children.append({"label": _label(name), "records": [_for_display(item) for item in value]})
        else:
            shown = json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value
            fields.append((_label(name), shown))
    return {"fields": fields, "children": children, "history": record.get("history", [])}


@staff_required("plans.export_client_data")
def client_export(request: HttpRequest, client_id: int) -> HttpResponse:
    client = get_object_or_404(Client, pk=client_id)
    export = privacy.client_export(client=client, by=request.user)
    return render(
        request,
        "plans/privacy/export.html",
        {"client": client, "export": export, "record": _for_display(export["client"])},
    )


@staff_required("plans.export_client_data")
def client_export_json(request: HttpRequest, client_id: int) -> HttpResponse:
    client = get_object_or_404(Client, pk=client_id)
    export = privacy.client_export(client=client, by=request.user)
    response = JsonResponse(export, json_dumps_params={"indent": 2, "ensure_ascii": False})
    # The file name carries the id only: names do not belong in URLs, file names or logs.
    response["Content-Disposition"] = f'attachment; filename="client-{client.pk}-data.json"'
    return response


@staff_required("plans.erase_client")
def client_erase(request: HttpRequest, client_id: int) -> HttpResponse:
    client = get_object_or_404(Client, pk=client_id)
    form = ErasureForm(request.POST or None)
    if request.method == "POST" and client.erased_at is None and form.is_valid():
        try:
            privacy.client_erase(client=client, by=request.user, reason=form.cleaned_data["reason"])
        except privacy.ErasureRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(request, f"Client #{client.pk} was erased. Statistics without personal data are kept.")
            return redirect("client-erase", client_id=client.pk)
    erasure = RecordAccess.objects.filter(client=client, action=AccessAction.ERASE).select_related("user").first()
    return render(request, "plans/privacy/erase.html", {"client": client, "form": form, "erasure": erasure})
