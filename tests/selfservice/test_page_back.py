"""The forms the client's page links (the consent, the pre-session check) lead back to that page:
before and after the client fills them. Only to the page they came from, while its link is live:
an email's own link, a withdrawn page link or another client's page token gives no way back."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from plans import recheck, scheduling
from plans.models import ClientAccess, ConsentKind
from plans.outbox.links import client_token
from plans.services import booking, selfservice
from plans.services import consent as consent_services
from tests.factories import ClientFactory
from tests.helpers.consent import data_url, signature_png
from tests.helpers.plans import plan_to_book
from tests.selfservice.conftest import MON

pytestmark = pytest.mark.django_db

BASE = "http://127.0.0.1:8000"
BACK = re.compile(r'<a href="([^"]+)">Back to your appointments</a>')


@pytest.fixture
def unsigned(clinic, frozen_clock):
    """A client with no consent yet, session 1 booked two days ahead: the page offers both forms."""
    from plans.consent_defaults import load_default_consents

    load_default_consents()
    plan = plan_to_book(first_target=MON)
    plan.client = ClientFactory(treatment_consent=False)
    plan.save(update_fields=["client"])
    proposal = booking.series_propose(plan=plan, preferences=scheduling.Preferences(practitioner_id=clinic["ana"].id))
    booking.series_book(plan=plan, proposal=proposal.result.bookings)
    frozen_clock.move_to(plan.sessions.order_by("sequence").first().starts_at - dt.timedelta(days=2))
    return plan


def _page(client, person) -> tuple[str, str]:
    """(the page's path, its HTML)."""
    path = selfservice.client_page_url(client=person).removeprefix(BASE)
    response = client.get(path)
    assert response.status_code == 200
    return path, response.content.decode()


def _link(text: str, pattern: str) -> str:
    return html.unescape(re.search(pattern, text, re.S)[1]).removeprefix(BASE)


def _back(response) -> list[str]:
    return [html.unescape(href) for href in BACK.findall(response.content.decode())]


def _sign(client, path: str):
    version = consent_services.current_version(ConsentKind.TREATMENT)
    form = {"version_id": version.pk, "signature": data_url(signature_png()), "has_read": "on"}
    return client.post(path, form)


def test_the_consent_opened_from_the_page_leads_back_to_it_before_and_after_signing(client, unsigned):
    page_path, text = _page(client, unsigned.client)
    consent = _link(text, r'id="consent-to-sign".*?href="([^"]+)"')
    response = client.get(consent)
    assert response.status_code == 200 and _back(response) == [page_path]
    response = _sign(client, consent)
    assert response.status_code == 200 and "Your consent is signed" in response.content.decode()
    assert _back(response) == [page_path]
    # Signed already: the refusal leads back too.
    response = _sign(client, consent)
    assert response.status_code == 409 and _back(response) == [page_path]


def test_the_check_opened_from_the_page_leads_back_to_it_before_and_after_answering(client, unsigned):
    page_path, text = _page(client, unsigned.client)
    check = _link(text, r'class="btn btn-outline-primary pre-session-check" href="([^"]+)"')
    response = client.get(check)
    assert response.status_code == 200 and _back(response) == [page_path]
    response = client.post(check, {code: "no" for code in recheck.CHECK_CODES})
    text = response.content.decode()
    assert response.status_code == 200 and "We have your answers" in text and _back(response) == [page_path]
    assert "Thank you: " not in text  # the title says it once
    response = client.get(check)  # answered: the refusal leads back too
    assert "already recorded" in response.content.decode() and _back(response) == [page_path]


def test_no_way_back_from_an_emails_link_a_withdrawn_page_link_or_another_clients_page(client, unsigned, front_desk):
    page_path, text = _page(client, unsigned.client)
    consent = _link(text, r'id="consent-to-sign".*?href="([^"]+)"')
    check = _link(text, r'class="btn btn-outline-primary pre-session-check" href="([^"]+)"')
    from_email = [consent.split("?")[0], check.split("?")[0]]
    other = ClientFactory()
    other_access = selfservice.client_access_issue(client=other)
    foreign = [client_token(other_access.pk, other.pk), client_token(other_access.pk, unsigned.client.pk), "junk"]
    for form in from_email:
        response = client.get(form)
        assert response.status_code == 200 and _back(response) == []
        for token in foreign:
            response = client.get(form, {"page": token})
            assert response.status_code == 200 and _back(response) == [], token
    # Staff withdraw the page links (a shared inbox): the forms no longer lead to the withdrawn page,
    # and no new page link is issued for them.
    client.force_login(front_desk)
    assert client.post(f"/clients/{unsigned.client.pk}/page-links/revoke/").status_code == 302
    client.logout()
    issued = ClientAccess.objects.filter(client=unsigned.client).count()
    for form in (consent, check):
        response = client.get(form)
        assert response.status_code == 200 and _back(response) == [], form
    assert ClientAccess.objects.filter(client=unsigned.client).count() == issued
    assert client.get(page_path).status_code == 400
