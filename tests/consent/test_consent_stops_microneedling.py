"""No microneedling without a treatment consent in force: completion needs one, and a withdrawal stops
booking and completing until the client signs again. The plan page, the calendar dialog and Today say so."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from plans.models import SessionStatus
from plans.services import booking
from plans.services import consent as consent_services
from tests.factories import ClientFactory
from tests.helpers.consent import sign_in_clinic
from tests.helpers.outbox import book
from tests.helpers.plans import booked_plan
from tests.helpers.records import complete, record_post
from tests.helpers.safety import record_check

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def today_session(aesthetician):
    """Zoe's first session started half an hour ago with Ana; her pre-session check is recorded."""
    start = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=30)
    plan = booked_plan(client=ClientFactory(first_name="Zoe", treatment_consent=False), starts=[start])
    session = plan.sessions.get()
    session.practitioner = aesthetician.practitioner
    session.save()
    record_check(session, by=aesthetician)
    return session


DEPTH = Decimal("0.5")


def _complete(session, by):
    return complete(session, DEPTH, by=by)


def test_completing_microneedling_without_a_signed_consent_is_refused_and_changes_nothing(today_session, aesthetician):
    with pytest.raises(booking.BookingError) as refused:
        _complete(today_session, aesthetician)
    assert refused.value.code == "needs_consent" and "no signed treatment consent" in str(refused.value)
    today_session.refresh_from_db()
    assert today_session.status == SessionStatus.BOOKED

    sign_in_clinic(today_session.plan.client, aesthetician)
    today_session.refresh_from_db()
    completed = _complete(today_session, aesthetician)
    assert completed.status == SessionStatus.COMPLETED


def test_completing_without_consent_over_http_answers_needs_consent(client, today_session, aesthetician):
    client.force_login(aesthetician)
    url = reverse("session-complete", args=[today_session.pk])
    response = client.post(url, record_post(today_session, DEPTH), **JSON)
    assert response.status_code == 400 and response.json()["code"] == "needs_consent"
    today_session.refresh_from_db()
    assert today_session.status == SessionStatus.BOOKED


def test_the_dialog_says_consent_is_needed_and_offers_the_tablet_to_clinical_staff(client, today_session, aesthetician):
    client.force_login(aesthetician)
    panel = client.get(reverse("session-panel", args=[today_session.pk]) + "?fragment=1").content.decode()
    assert 'id="session-consent"' in panel and 'data-state="missing"' in panel
    assert reverse("consent-sign", args=[today_session.plan.client_id, "treatment"]) in panel


@pytest.fixture
def withdrawn(aesthetician):
    """Zoe signed, booked three sessions ahead, then phoned to withdraw her consent."""
    zoe = ClientFactory(first_name="Zoe", treatment_consent=False)
    consent = sign_in_clinic(zoe, aesthetician)
    now = timezone.now()
    plan = booked_plan(client=zoe, starts=[now + dt.timedelta(days=d) for d in (7, 35, 63)])
    book(plan)
    consent_services.consent_withdraw(consent=consent, by=aesthetician, reason="Phoned on Monday")
    plan.refresh_from_db()
    return plan


def test_a_withdrawal_stops_booking_and_completing_microneedling_with_a_clear_reason(withdrawn, aesthetician):
    first = withdrawn.sessions.order_by("sequence").first()
    for action in ("book", "complete"):
        assert withdrawn.sessions.first().refusal_code(action) in ("needs_consent", "illegal")
    # Cancelled to be rebooked: booking again is refused because of the consent, not the status.
    booking.session_cancel(session=first, by_client=False, reason="Client unsure", by=aesthetician)
    first.refresh_from_db()
    assert first.refusal_code("book") == "needs_consent" and "withdrew" in first.refusal("book")
    assert "book" not in first.available_actions()
    with pytest.raises(booking.BookingError) as refused:
        booking.session_book(
            session=first,
            starts_at=first.starts_at + dt.timedelta(days=1),
            practitioner=first.practitioner,
            room=first.room,
            by=aesthetician,
        )
    assert refused.value.code == "needs_consent"

    second = withdrawn.sessions.get(sequence=2)
    with time_machine.travel(second.starts_at + dt.timedelta(minutes=20), tick=False):
        record_check(second, by=aesthetician)
        second.refresh_from_db()
        assert second.refusal_code("complete") == "needs_consent"
        with pytest.raises(booking.BookingError) as refused:
            _complete(second, aesthetician)
        assert refused.value.code == "needs_consent"


def test_signing_again_lets_microneedling_go_on(withdrawn, aesthetician):
    sign_in_clinic(withdrawn.client, aesthetician)
    second = withdrawn.sessions.get(sequence=2)
    second.plan.client.refresh_from_db()
    assert second.can("complete", now=second.starts_at + dt.timedelta(minutes=5))


def test_the_withdrawal_shows_on_the_plan_page_the_dialog_and_today_for_every_role(
    client, withdrawn, aesthetician, front_desk
):
    session = withdrawn.sessions.get(sequence=1)
    for user in (aesthetician, front_desk):
        client.force_login(user)
        plan_page = client.get(reverse("plan-detail", args=[withdrawn.pk])).content.decode()
        assert 'data-state="withdrawn"' in plan_page and 'data-code="needs_consent"' in plan_page
        panel = client.get(reverse("session-panel", args=[session.pk]) + "?fragment=1").content.decode()
        assert 'id="session-consent"' in panel and "withdrawn" in panel
        with time_machine.travel(session.starts_at - dt.timedelta(minutes=1), tick=False):
            client.force_login(user)  # a login lasts hours, not the week ahead
            today = client.get(reverse("home")).content.decode()
        assert "Consent withdrawn" in today, user
        # Front desk learns the status, never the signed text.
        assert (
            "Phoned on Monday" in client.get(reverse("client-detail", args=[withdrawn.client_id])).content.decode()
        ) is False


def test_withdrawing_twice_is_refused(withdrawn, aesthetician):
    consent = withdrawn.client.consents.get()
    with pytest.raises(consent_services.ConsentRefused, match="already withdrawn"):
        consent_services.consent_withdraw(consent=consent, by=aesthetician, reason="Again")


def test_staff_must_say_how_the_client_withdrew(client, aesthetician):
    consent = sign_in_clinic(ClientFactory(treatment_consent=False), aesthetician)
    client.force_login(aesthetician)
    client.post(reverse("consent-withdraw", args=[consent.pk]), {"reason": "   "})
    assert not consent.client.consents.filter(withdrawal__isnull=False).exists()
    client.post(reverse("consent-withdraw", args=[consent.pk]), {"reason": "In person at reception"})
    consent.refresh_from_db()
    assert consent.withdrawal.recorded_by == aesthetician
