"""Form data as a browser posts it: the client intake form and the Django admin's protocol page."""

from __future__ import annotations

from django.urls import reverse

from plans import models


def intake(**overrides):
    """The client intake form for Rosa Lopes, "no" to every screening question; a None value leaves a field out."""
    data = {
        "first_name": "Rosa",
        "last_name": "Lopes",
        "date_of_birth": "1988-04-02",
        "email": "rosa@example.com",
        "phone": "+44 7700 900111",
        "fitzpatrick": "3",
        "oiliness": "combination",
        "pore_concern": "moderate",
        "screen_pregnant_nursing": "no",
        "screen_anticoagulants": "no",
        "screen_isotretinoin": "no",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


ADD_URL = reverse("admin:plans_protocol_add")

INLINES = {
    "contraindications": ("question", "action", "window_amount", "window_unit", "explanation"),
    "combinations": (
        "name",
        "kind",
        "position",
        "optional",
        "books_appointment",
        "duration_minutes",
        "placement",
        "after_sessions",
        "offset_days",
        "end_offset_days",
        "min_days_after_mn",
        "min_days_before_mn",
        "instructions",
    ),
    "care_notes": ("phase", "offset_days", "position", "subject", "body"),
    "reminder_leads": ("hours_before", "include_pre_care"),
}

PROTOCOL = {
    "name": "Gentle three-session series",
    "code": "gentle-three",
    "active": "on",
    "priority": "60",
    "description": "For tests. Sources: Harris AG, Int J Women's Dermatol 2015.",
    "fitzpatrick_min": "1",
    "fitzpatrick_max": "3",
    "age_min": "18",
    "age_max": "",
    "severities": ["mild", "moderate"],
    "oiliness_types": ["normal", "combination"],
    "session_count": "3",
    "interval_unit": "weeks",
    "interval_min": "4",
    "interval_target": "4",
    "interval_max": "6",
    "session_minutes": "60",
    "buffer_minutes": "15",
    "device": "pen",
    "depth_schedule": "0.5, 0.75, 1.0",
    "depth_cap_mm": "1.5",
    "depth_notes": "Nose and forehead 0.5 mm.",
    "follow_up_days": "84",
    "maintenance_note": "Every 6-12 months.",
    "review_after_days": "182",
    "depth_zones": '[{"zone": "nose", "cap_mm": "0.5"}]',
}


def question(code: str) -> models.ScreeningQuestion:
    return models.ScreeningQuestion.objects.get(code=code)


def rule(code: str, action: str = "review", amount: str = "", unit: str = "", **extra) -> dict:
    return {
        "question": code,  # resolved to the question's id when the form is posted
        "action": action,
        "window_amount": amount,
        "window_unit": unit,
        "explanation": "test",
        **extra,
    }


def peel(**extra) -> dict:
    return {
        "name": "Glycolic peel",
        "kind": "peel",
        "position": "1",
        "optional": "on",
        "books_appointment": "on",
        "duration_minutes": "30",
        "placement": "between",
        "after_sessions": "",
        "offset_days": "0",
        "end_offset_days": "0",
        "min_days_after_mn": "14",
        "min_days_before_mn": "14",
        "instructions": "Midway.",
        **extra,
    }


def note(phase: str = "post", offset: str = "1", **extra) -> dict:
    return {"phase": phase, "offset_days": offset, "position": "1", "subject": "Sun", "body": "SPF 30.", **extra}


def lead(hours: str, pre_care: bool = False, **extra) -> dict:
    return {"hours_before": hours, **({"include_pre_care": "on"} if pre_care else {}), **extra}


def form_data(protocol: dict | None = None, **inlines: list[dict]) -> dict:
    """The POST body of the protocol add/change page, with every inline's management form."""
    data = {**PROTOCOL, **(protocol or {}), "_save": "Save"}
    for prefix in INLINES:
        rows = inlines.get(prefix, [])
        data[f"{prefix}-TOTAL_FORMS"] = str(len(rows))
        data[f"{prefix}-INITIAL_FORMS"] = str(sum(1 for row in rows if row.get("id")))
        data[f"{prefix}-MIN_NUM_FORMS"] = "0"
        data[f"{prefix}-MAX_NUM_FORMS"] = "1000"
        for index, row in enumerate(rows):
            for key, value in row.items():
                if key == "question" and not value.isdigit():
                    value = str(question(value).pk)
                data[f"{prefix}-{index}-{key}"] = value
    return {key: value for key, value in data.items() if value is not None}


def full_form() -> dict:
    return form_data(
        contraindications=[rule("pregnant_or_nursing", "hard_stop"), rule("tan_or_sunburn", "defer", "14", "days")],
        combinations=[peel()],
        care_notes=[note("pre", "-7", subject="Stop retinoids"), note("post", "1")],
        reminder_leads=[lead("168", pre_care=True), lead("48"), lead("24")],
    )


def form_from_page(response) -> dict:
    """The data a browser would submit unchanged, read from the bound admin forms in the context."""
    data: dict = {}
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(value, list):
            data[name] = [str(v) for v in value]
        elif isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = field.prepare_value(value) if name == "depth_schedule" else str(value)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for key, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{key}"] = str(value)
        data[f"{formset.prefix}-TOTAL_FORMS"] = str(len(formset.forms))
        for subform in formset.forms:
            for name in subform.fields:
                value = subform[name].value()
                if isinstance(value, bool):
                    if value:
                        data[subform.add_prefix(name)] = "on"
                elif value is not None:
                    prepared = subform.fields[name].prepare_value(value)
                    data[subform.add_prefix(name)] = "" if prepared is None else str(prepared)
    return data


def errors_of(response) -> list[str]:
    """Every error message on the page: the protocol form's and each inline row's."""
    assert response.status_code == 200, "expected the form back with errors, got a redirect"
    messages = [str(m) for field_errors in response.context["adminform"].form.errors.values() for m in field_errors]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        messages += [str(m) for m in formset.non_form_errors()]
        for form_errors in formset.errors:
            messages += [str(m) for field_errors in form_errors.values() for m in field_errors]
    return messages


def screening_correction(client: models.Client, *, reason: str = "", **answers: str) -> dict:
    """The screening correction form as its page pre-fills it for `client` (their current screen's
    answers), with `answers` changed (code -> "yes"/"no", or "<code>_date" -> ISO date) and the reason."""
    screening = client.screenings.first()
    data = {"corrects": str(screening.pk), "correction_reason": reason}
    for a in screening.answers.select_related("question"):
        data[f"screen_{a.question.code}"] = "yes" if a.answer else "no"
        if a.last_date:
            data[f"screen_{a.question.code}_date"] = a.last_date.isoformat()
    data.update({f"screen_{code}": value for code, value in answers.items()})
    return data
