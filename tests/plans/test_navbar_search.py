"""The navbar search finds a client by any part of the name, email, phone or date of birth,
as-you-type, by POST: nothing personal in a URL."""

import datetime as dt

import pytest
from django.urls import reverse

from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ines():
    return ClientFactory(
        first_name="Inês",
        last_name="Carvalho",
        email="ines.carvalho@example.org",
        phone="07700 900123",
        date_of_birth=dt.date(1988, 3, 14),
    )


@pytest.mark.parametrize("text", ["carv", "inês carvalho", "ines.carvalho@", "900123", "14/03/1988", "1988-03-14"])
def test_any_part_finds_the_client(client, front_desk, ines, text):
    ClientFactory(first_name="Other", last_name="Person", date_of_birth=dt.date(1990, 1, 1))
    client.force_login(front_desk)
    response = client.post(reverse("client-search"), {"q": text}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert [c.pk for c in response.context["results"]] == [ines.pk]
    assert reverse("client-detail", args=[ines.pk]) in response.content.decode()


def test_without_javascript_the_search_is_a_page_and_every_page_carries_the_box(client, aesthetician, ines):
    client.force_login(aesthetician)
    page = client.post(reverse("client-search"), {"q": "carvalho"})
    assert page.status_code == 200 and "Carvalho, Inês" in page.content.decode()
    home = client.get(reverse("home")).content.decode()
    assert f'hx-post="{reverse("client-search")}"' in home and 'id="nav-search"' in home


def test_the_client_list_finds_a_date_of_birth_too(client, front_desk, ines):
    client.force_login(front_desk)
    response = client.get(reverse("client-list"), {"q": "14/03/1988"})
    assert [c.pk for c in response.context["page"]] == [ines.pk]
