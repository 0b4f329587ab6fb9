"""Two submits of one signing link at the same moment, through gunicorn on PostgreSQL: exactly one
signature, the other refused with a page (409), never a 500. The staff withdrawal races a remote
signature of the same client too."""

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from bench.server import Server, staff_cookies
from plans.consent_defaults import load_default_consents
from plans.models import ConsentKind, Message, MessageKind, SignedConsent
from plans.outbox.links import link_url
from plans.services import consent as consent_services
from tests.factories import ClientFactory
from tests.helpers.consent import data_url, sign_in_clinic, signature_png
from tests.helpers.http_races import NEEDS_POSTGRES, ON_POSTGRES, anonymous_cookies, fire_each
from tests.helpers.outbox import book
from tests.helpers.plans import booked_plan

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason=NEEDS_POSTGRES),
    pytest.mark.django_db(transaction=True),
]
ROUNDS = 6


def fire(server: Server, requests: list[tuple[str, dict, dict]]) -> list[int]:
    """POST every (path, form, cookies) at once, as browsers do (pages, not JSON); the statuses, in order."""
    return [status for status, _body in fire_each(server, requests, json=False)]


def _request_for_new_client(n: int) -> Message:
    now = timezone.now()
    client = ClientFactory(first_name=f"Racer{n}", treatment_consent=False)
    book(booked_plan(client=client, starts=[now + dt.timedelta(days=10 + n)]))
    return Message.objects.get(client=client, kind=MessageKind.CONSENT_REQUEST)


def test_two_submits_of_one_signing_link_make_exactly_one_signature_and_no_500(race_server, db):
    load_default_consents()
    version = consent_services.current_version(ConsentKind.TREATMENT)
    form = {"version_id": version.pk, "signature": data_url(signature_png()), "has_read": "on"}
    for n in range(ROUNDS):
        message = _request_for_new_client(n)
        path = link_url(message, "consent").removeprefix(settings.CLINIC_BASE_URL)
        statuses = fire(race_server, [(path, form, anonymous_cookies()), (path, form, anonymous_cookies())])
        assert sorted(statuses) == [200, 409], statuses
        assert SignedConsent.objects.filter(client_id=message.client_id).count() == 1


def test_a_staff_withdrawal_racing_a_remote_signature_leaves_a_consistent_record(race_server, aesthetician, db):
    load_default_consents()
    version = consent_services.current_version(ConsentKind.TREATMENT)
    form = {"version_id": version.pk, "signature": data_url(signature_png()), "has_read": "on"}
    cookies = staff_cookies(aesthetician.username)
    for n in range(ROUNDS):
        message = _request_for_new_client(100 + n)
        client = message.client
        earlier = sign_in_clinic(client, aesthetician, now=timezone.now() - dt.timedelta(days=400))
        sign = link_url(message, "consent").removeprefix(settings.CLINIC_BASE_URL)
        statuses = fire(
            race_server,
            [
                (sign, form, anonymous_cookies()),
                (f"/consents/{earlier.pk}/withdraw/", {"reason": "Phoned"}, cookies),
            ],
        )
        assert all(s < 500 for s in statuses), statuses
        client.refresh_from_db()
        newest = SignedConsent.objects.newest(client_id=client.pk, kind=ConsentKind.TREATMENT)
        # The flag always matches the newest signature, whichever write went first.
        assert (client.treatment_consent_withdrawn_at is not None) == newest.is_withdrawn
