"""The client pages: intake errors, search and pagination."""

import datetime as dt

import pytest
from django.urls import reverse

from plans.models import Client
from tests.factories import ClientFactory
from tests.helpers.forms import intake


@pytest.fixture
def browser_client(client, aesthetician):
    client.force_login(aesthetician)
    return client


def test_pages_need_a_login(client, db):
    response = client.get(reverse("client-list"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_intake_creates_the_client_with_their_screen(browser_client, protocol):
    response = browser_client.post(reverse("client-create"), intake(screen_anticoagulants="yes"))

    client = Client.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("client-detail", args=[client.pk])
    page = browser_client.get(response["Location"]).content.decode()
    assert "Taking anticoagulants?" in page and "Answered yes" in page


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"date_of_birth": "2100-01-01"}, "date_of_birth", "The date of birth is in the future."),
        (
            {"date_of_birth": (dt.date.today() - dt.timedelta(days=365 * 15)).isoformat()},
            "date_of_birth",
            "the clinic treats clients aged 18 or over",
        ),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"screen_anticoagulants": None}, "screen_anticoagulants", "Answer yes or no."),
        ({"screen_isotretinoin": "yes"}, "screen_isotretinoin_date", "Give the date it last happened."),
    ],
)
def test_intake_shows_a_clear_error_and_saves_nothing(browser_client, protocol, overrides, field, message):
    response = browser_client.post(reverse("client-create"), intake(**overrides))

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not Client.objects.exists()


def test_search_finds_clients_by_name_email_or_phone(browser_client):
    ClientFactory(first_name="Ana", last_name="Silva", email="ana@example.com", phone="+44 7700 900001")
    ClientFactory(first_name="Bea", last_name="Costa", email="bea@mail.test", phone="+44 7700 900002")

    def names(q):
        response = browser_client.get(reverse("client-list"), {"q": q})
        return [c.first_name for c in response.context["page"]]

    assert names("silva") == ["Ana"]
    assert names("ana silva") == ["Ana"]
    assert names("mail.test") == ["Bea"]
    assert names("900002") == ["Bea"]
    assert names("nobody") == []


def test_the_client_list_is_paginated(browser_client):
    for i in range(30):
        ClientFactory(last_name=f"Person{i:02d}")

    first = browser_client.get(reverse("client-list"))
    second = browser_client.get(reverse("client-list"), {"page": 2})

    assert len(first.context["page"]) == 25 and len(second.context["page"]) == 5
    assert "Page 1 of 2" in first.content.decode()


def test_editing_a_client_with_a_changed_answer_records_a_new_screen(browser_client, protocol):
    browser_client.post(reverse("client-create"), intake())
    person = Client.objects.get()

    response = browser_client.post(
        reverse("client-edit", args=[person.pk]),
        intake(phone="+44 2", screen_isotretinoin="yes", screen_isotretinoin_date="2025-01-10"),
    )

    assert response.status_code == 302
    person.refresh_from_db()
    assert person.phone == "+44 2"
    assert person.screenings.count() == 2
    edit_page = browser_client.get(reverse("client-edit", args=[person.pk])).content.decode()
    assert 'value="2025-01-10"' in edit_page
