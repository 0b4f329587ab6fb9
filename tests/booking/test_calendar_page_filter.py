"""The calendar page for one practitioner ("my day"): only their column, and their events asked for."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_my_day_shows_one_column_and_asks_for_my_events(client, clinic, aesthetician):
    client.force_login(aesthetician)
    everyone = client.get(reverse("calendar")).context
    assert [r["title"] for r in everyone["config"]["resources"]] == ["Ana Silva", "Ben Okafor"]
    assert 'id="my-day"' in client.get(reverse("calendar")).content.decode()
    mine = client.get(reverse("calendar"), {"practitioner": clinic["ana"].pk, "view": "day"}).context
    assert [r["title"] for r in mine["config"]["resources"]] == ["Ana Silva"]
    assert mine["config"]["practitioner"] == clinic["ana"].pk
    assert mine["config"]["view"] == "resourceTimeGridDay"


def test_an_unknown_practitioner_shows_everyone_and_front_desk_has_no_my_day(client, clinic, front_desk):
    client.force_login(front_desk)
    response = client.get(reverse("calendar"), {"practitioner": 999999})
    assert response.context["config"]["practitioner"] is None
    assert len(response.context["config"]["resources"]) == 2
    assert 'id="my-day"' not in response.content.decode()
