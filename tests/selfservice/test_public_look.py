"""The pages behind the emails' links wear the clinic's name, logo and colour like the emails, show
no staff menu, and write times as the emails do."""

import pytest
from django.test import override_settings
from django.urls import reverse

from tests.selfservice.test_client_page import page_path

pytestmark = pytest.mark.django_db


def test_the_client_page_has_the_clinic_header_footer_and_no_staff_menu(client, booked_plan, settings):
    text = client.get(page_path(booked_plan.client)).content.decode()
    assert f'<span class="public-name">{settings.CLINIC_NAME}</span>' in text
    assert reverse("public-brand-css") in text and "css/public.css" in text
    assert "https://www.openstreetmap.org/search?query=1+High+Street%2C+London" in text
    assert 'href="tel:+442079460000"' in text
    assert 'id="main-nav"' not in text and "Times in Europe/London" not in text and "Log out" not in text
    assert "Monday 1 March at" in text and "(Europe/London time)" not in text


def test_the_brand_style_sheet_carries_the_configured_colour_and_a_readable_text_colour(client, settings):
    settings.CLINIC_COLOUR = "#fde68a"  # a pastel: dark text on it
    response = client.get(reverse("public-brand-css"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/css")
    css = response.content.decode()
    assert "--clinic-colour: #fde68a;" in css and "--clinic-on-colour: #1f2933;" in css


def test_a_bad_link_page_is_branded_too(client, settings):
    text = client.get("/e/cancel/not-a-token/").content.decode()
    assert 'id="public-header"' in text and settings.CLINIC_PHONE in text


@override_settings(CLINIC_LOGO_URL="https://cdn.clinic.example/logo.png")
def test_with_a_logo_the_header_shows_it_named_by_the_clinic(client, booked_plan, settings):
    text = client.get(page_path(booked_plan.client)).content.decode()
    assert f'<img class="public-logo" src="https://cdn.clinic.example/logo.png" alt="{settings.CLINIC_NAME}">' in text


def test_the_consent_page_from_the_email_is_branded_and_the_tablet_one_keeps_the_staff_menu(client, aesthetician):
    import datetime as dt

    from django.utils import timezone

    from plans.models import Message, MessageKind
    from plans.outbox.links import link_url
    from tests.factories import ClientFactory
    from tests.helpers.outbox import book
    from tests.helpers.plans import booked_plan

    zoe = ClientFactory(first_name="Zoe", treatment_consent=False)
    book(booked_plan(client=zoe, starts=[timezone.now() + dt.timedelta(days=d) for d in (10, 38, 66)]))
    message = Message.objects.get(kind=MessageKind.CONSENT_REQUEST)
    public = client.get(link_url(message, "consent").removeprefix("http://127.0.0.1:8000")).content.decode()
    assert 'id="public-header"' in public and 'id="sign-form"' in public and 'id="main-nav"' not in public
    client.force_login(aesthetician)
    tablet = client.get(reverse("consent-sign", args=[zoe.pk, "treatment"])).content.decode()
    assert 'id="main-nav"' in tablet and 'id="public-header"' not in tablet
