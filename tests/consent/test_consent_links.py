"""Signing at home from the emailed link: written with the booking, once per link, and a forged,
tampered, expired or replayed link refused with a page that gives the clinic's number."""

import datetime as dt
import re

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from plans.models import ConsentKind, Message, MessageKind, MessageStatus, SignedConsent
from plans.outbox.links import link_url, make_token
from plans.outbox.render import build_email
from plans.services import consent as consent_services
from tests.factories import ClientFactory
from tests.helpers.consent import data_url, sign_in_clinic, signature_png
from tests.helpers.outbox import book
from tests.helpers.plans import booked_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def request_message() -> Message:
    """Zoe booked her series without a signed consent: the booking wrote the consent request."""
    now = timezone.now()
    starts = [now + dt.timedelta(days=d) for d in (10, 38, 66)]
    plan = booked_plan(client=ClientFactory(first_name="Zoe", treatment_consent=False), starts=starts)
    book(plan)
    return Message.objects.get(kind=MessageKind.CONSENT_REQUEST)


def _sign_form(version_id: int | None = None, png: bytes | None = None) -> dict:
    version_id = version_id or consent_services.current_version(ConsentKind.TREATMENT).pk
    return {"version_id": version_id, "signature": data_url(png or signature_png()), "has_read": "on"}


def test_booking_a_series_without_consent_writes_one_request_for_session_1_in_the_same_transaction(request_message):
    assert request_message.session.mn_number == 1 and request_message.status == MessageStatus.PENDING
    email = build_email(request_message, now=timezone.now(), message_id="<t@clinic.example>")
    body = email.body
    assert "sign" in email.subject.lower() and "/e/consent/" in body and "/e/withdraw/" in body


def test_a_client_who_already_signed_gets_no_request():
    now = timezone.now()
    plan = booked_plan(client=ClientFactory(), starts=[now + dt.timedelta(days=10)])
    book(plan)
    assert not Message.objects.filter(kind=MessageKind.CONSENT_REQUEST).exists()


def test_the_link_signs_once_without_a_witness_and_a_replay_is_refused_with_the_phone_number(client, request_message):
    url = link_url(request_message, "consent").removeprefix(settings.CLINIC_BASE_URL)
    page = client.get(url)
    assert page.status_code == 200 and "Cold-sore reactivation" in page.content.decode()

    response = client.post(url, _sign_form(), HTTP_USER_AGENT="Phone browser", REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 200 and "Thank you" in response.content.decode()
    signed = SignedConsent.objects.get()
    assert (signed.via, signed.witness, signed.request_message_id, signed.ip_address) == (
        "remote",
        None,
        request_message.pk,
        "198.51.100.7",
    )
    request_message.refresh_from_db()
    assert request_message.status == MessageStatus.CANCELLED  # nothing left to ask

    again = client.post(url, _sign_form())
    text = again.content.decode()
    assert again.status_code == 409 and "already used" in text and settings.CLINIC_PHONE in text
    assert client.get(url).status_code == 400 and SignedConsent.objects.count() == 1


@pytest.mark.parametrize(
    "make_bad",
    [
        lambda m: "forged-token-from-nowhere",
        lambda m: make_token(m, "consent")[:-3] + "abc",  # tampered signature
        lambda m: make_token(m, "confirm"),  # a token of another purpose
    ],
    ids=["forged", "tampered", "other purpose"],
)
def test_a_forged_or_tampered_link_is_refused_with_a_clear_page(client, request_message, make_bad):
    url = reverse("public-consent", args=[make_bad(request_message)])
    for response in (client.get(url), client.post(url, _sign_form())):
        text = response.content.decode()
        assert response.status_code == 400 and "cannot be used" in text and settings.CLINIC_PHONE in text
    assert not SignedConsent.objects.exists()


def test_the_link_expires(client, request_message):
    url = link_url(request_message, "consent").removeprefix(settings.CLINIC_BASE_URL)
    later = timezone.now() + dt.timedelta(days=settings.CONSENT_LINK_MAX_AGE_DAYS + 1)
    with time_machine.travel(later, tick=False):
        response = client.post(url, _sign_form())
    assert response.status_code == 400 and "expired" in response.content.decode()
    assert not SignedConsent.objects.exists()


def test_a_blank_signature_from_the_link_is_refused_and_the_link_still_works(client, request_message):
    url = link_url(request_message, "consent").removeprefix(settings.CLINIC_BASE_URL)
    response = client.post(url, _sign_form(png=signature_png(ink=False)))
    assert response.status_code == 400 and "empty" in response.content.decode()
    assert client.post(url, _sign_form()).status_code == 200


def test_the_request_is_not_sent_once_the_client_signed_in_the_clinic(request_message, aesthetician):
    from plans.outbox.kinds import why_not_standing

    sign_in_clinic(request_message.client, aesthetician)
    request_message.refresh_from_db()
    assert request_message.status == MessageStatus.CANCELLED
    assert why_not_standing(request_message, timezone.now()) is not None


def test_the_client_withdraws_with_the_link_and_microneedling_stops(client, request_message):
    sign = link_url(request_message, "consent").removeprefix(settings.CLINIC_BASE_URL)
    client.post(sign, _sign_form())
    url = link_url(request_message, "withdraw").removeprefix(settings.CLINIC_BASE_URL)
    ask = client.get(url).content.decode()
    assert "Withdraw my consent" in ask and not SignedConsent.objects.get().is_withdrawn  # GET changes nothing
    done = client.post(url)
    assert done.status_code == 200 and "withdrawn" in done.content.decode()
    signed = SignedConsent.objects.select_related("withdrawal").get()
    assert signed.withdrawal.via == "client" and signed.withdrawal.recorded_by is None
    zoe = signed.client
    zoe.refresh_from_db()
    assert zoe.treatment_consent_withdrawn_at is not None
    # Nothing left to withdraw: the page says so, nothing changes.
    assert "no treatment consent in force" in client.post(url).content.decode()


def test_the_emailed_link_opens_the_signing_page_from_the_email_text(client, request_message):
    body = build_email(request_message, now=timezone.now(), message_id="<t@x>").body
    url = re.search(r"https?://\S+/e/consent/\S+/", body)[0].removeprefix(settings.CLINIC_BASE_URL)
    assert client.get(url).status_code == 200
