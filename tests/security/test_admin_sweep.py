"""The admin under hostile input: every list page with bad filters, the main forms with edge values.

The rule is the bad-input sweep's (test_bad_input.py): never a 500; a refusal writes nothing.
Run it on PostgreSQL too (DATABASE_URL=postgres://...): NUL bytes and column lengths bite there.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import DataError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from plans import models
from plans.roles import FRONT_DESK
from tests.helpers.forms import form_from_page
from tests.helpers.sweeps import refused

HUGE = "9223372036854775808"  # 2**63: one more than the largest 64-bit integer
EDGE = {
    "year1": "0001-01-01",
    "year9999": "9999-12-31",
    "feb30": "2026-02-30",
    "huge": HUGE,
    "huge400": "9" * 400,
    "superscript": "²",
    "arabic-digits": "٢٠٢٦-٠١-٠١",
    "negative": "-1",
    "nul": "Ro\x00sa",
    "replacement": "\ufffd\ufffd",
    "long": "x" * 100_000,
    "crlf": "Ro\r\nsa",
    "bidi": "\u202eevil",
}
# Values no field of these forms can take (the longest text field takes 5,000 characters): refused.
NEVER_VALID = {"nul", "long"}


def everything() -> dict:
    """Every row of every model, to prove a refused request wrote nothing (and a GET nothing at all)."""
    state = {}
    for model in apps.get_models():
        if model._meta.label in ("sessions.Session", "axes.AccessLog", "plans.RateLimitBucket"):
            continue  # written by every request (login, rate limits), not by the forms under test
        state[model._meta.label] = list(model._default_manager.order_by("pk").values())
    return state


@pytest.fixture
def admin_client(client, clinic_admin, world):
    client.force_login(clinic_admin)
    return client


FILTER_VALUES = [
    ("exact", HUGE),
    ("exact", "²"),
    ("gte", "9999-12-31"),
    ("lt", "0001-01-01"),
    ("id__exact", HUGE),
    ("isnull", "maybe"),
    ("gte", "9999-12-31 23:59:59"),
]


def _list_params(model_admin) -> list[dict]:
    params = [
        {"q": "x" * 100_000},
        {"q": "²"},
        {"p": HUGE},
        {"p": "-1"},
        {"o": "99.-99"},
        {"o": "²"},
        {"pk__in": "1,x"},
        {"id__gt": HUGE},
        {"_to_field": "password"},
        {"e": "1", "all": ""},
    ]
    if field := model_admin.date_hierarchy:
        for year, month, day in [
            ("9999", None, None),
            (HUGE, None, None),
            ("9999", "12", None),
            ("9999", "12", "31"),
            ("1", "1", "1"),
            ("0", None, None),
            ("2026", "2", "30"),
            ("2026", "13", None),
            ("²", None, None),
        ]:
            query = {f"{field}__year": year}
            query.update({f"{field}__month": month} if month else {})
            query.update({f"{field}__day": day} if day else {})
            params.append(query)
    for name in model_admin.list_filter:
        if isinstance(name, str):
            params += [{f"{name}__{lookup}": value} for lookup, value in FILTER_VALUES]
    return params


def test_every_admin_list_page_survives_hostile_filters_and_says_when_it_ignores_them(admin_client):
    problems = []
    before = everything()
    for model, model_admin in admin.site._registry.items():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for query in _list_params(model_admin):
            response = admin_client.get(url, query, follow=True)
            if response.status_code >= 500:
                problems.append(f"{url} {dict((k, v[:30]) for k, v in query.items())}: {response.status_code}")
    assert everything() == before
    assert not problems, "\n".join(problems)


def test_a_date_hierarchy_year_9999_shows_the_list_unfiltered_with_a_message(admin_client):
    url = reverse("admin:plans_screening_changelist")
    for year in ("9999", HUGE):
        response = admin_client.get(url, {"screened_on__year": year}, follow=True)
        assert response.status_code == 200
        assert "cannot be applied" in " ".join(str(m) for m in response.context["messages"])


# --- Add and change forms ------------------------------------------------------------------------------


def _forms(world) -> list[tuple[str, str]]:
    user = get_user_model().objects.get(username="fiona")
    return [
        ("client add", reverse("admin:plans_client_add")),
        ("client change", reverse("admin:plans_client_change", args=[world.client.pk])),
        ("screening change", reverse("admin:plans_screening_change", args=[world.screening.pk])),
        ("closure add", reverse("admin:plans_timeoff_add")),
        ("room add", reverse("admin:plans_room_add")),
        ("room change", reverse("admin:plans_room_change", args=[world.room.pk])),
        ("user add", reverse("admin:auth_user_add")),
        ("user change", reverse("admin:auth_user_change", args=[user.pk])),
    ]


VALID = {
    "client add": {"first_name": "Rosa", "last_name": "Lopes", "email": "rosa@example.com", "fitzpatrick": "3",
                   "date_of_birth": "1988-04-02", "oiliness": "normal", "pore_concern": "mild"},
    "closure add": {"starts_at_1": "09:00", "ends_at_1": "17:00", "reason": "Training"},
    "room add": {"name": "Room Z", "active": "on"},
    "user add": {"username": "nina", "usable_password": "true", "password1": "a-long-Passphrase-9",
                 "password2": "a-long-Passphrase-9", "role": FRONT_DESK},
}  # fmt: skip


def _valid(admin_client, label, url) -> dict:
    data = form_from_page(admin_client.get(url))
    data.update(VALID.get(label, {}))
    if label == "closure add":
        day = (timezone.localdate() + dt.timedelta(days=14)).isoformat()
        data.update(starts_at_0=day, ends_at_0=day)
    return data


def _fields(data: dict) -> list[str]:
    skip = ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS", "password")
    return [name for name in data if not name.endswith(skip) and "-" not in name and name != "usable_password"]


def test_admin_add_and_change_forms_survive_edge_values_without_unwanted_writes(admin_client, world):
    problems = []
    for label, url in _forms(world):
        valid = _valid(admin_client, label, url)
        for field in _fields(valid):
            for key, value in EDGE.items():
                before = everything()
                try:
                    response = admin_client.post(url, {**valid, field: value})
                except Exception as exc:  # the test client re-raises what would be a 500
                    problems.append(f"{label} {field}={key}: {type(exc).__name__}: {str(exc)[:150]}")
                    continue
                if response.status_code >= 500:
                    problems.append(f"{label} {field}={key}: {response.status_code}")
                elif refused(response) or response.status_code == 403:
                    if everything() != before:
                        problems.append(f"{label} {field}={key}: refused but wrote rows")
                elif key in NEVER_VALID and field not in ("active", "is_active", "email_consent"):
                    problems.append(f"{label} {field}={key}: accepted ({response.status_code})")
                _undo_additions(label)
    assert not problems, "\n".join(problems)


def _undo_additions(label: str) -> None:
    """Accepted additions are removed so the next value meets the same form (e.g. a free room name)."""
    if label == "room add":
        models.Room.objects.exclude(name__startswith="Room").delete()
        models.Room.objects.filter(name__in=["Room Z"]).delete()
    elif label == "closure add":
        models.TimeOff.objects.exclude(reason="Staff training").delete()
    elif label == "user add":
        get_user_model().objects.filter(username__in=["nina"]).delete()
    elif label == "client add":
        models.Client.objects.filter(email="rosa@example.com").delete()


@pytest.mark.parametrize("charset", ["utf-16", "utf-7"])
def test_an_admin_post_in_another_charset_gets_the_400_page(admin_client, world, charset):
    before = everything()
    response = admin_client.post(
        reverse("admin:plans_client_change", args=[world.client.pk]),
        "first_name=x",
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
    )
    assert response.status_code == 400 and b"could not be read" in response.content
    assert everything() == before


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite neither limits column lengths nor refuses NUL")
def test_on_postgresql_the_database_itself_refuses_overlong_names_and_nul(world):
    for change in ({"first_name": "x" * 101}, {"phone": "7" * 41}, {"first_name": "Ro\x00sa"}):
        with pytest.raises((DataError, ValueError)), transaction.atomic():
            models.Client.objects.filter(pk=world.client.pk).update(**change)
