"""Staff resend a failed email from the client's timeline; a client cancels from an email link."""

import datetime as dt

import pytest
from django.utils import timezone

from plans.models import Message, MessageStatus, SessionStatus
from plans.outbox.links import make_token
from tests.helpers.outbox import book
from tests.helpers.plans import booked_plan

pytestmark = pytest.mark.django_db(transaction=True)


def test_staff_resend_a_failed_email_from_the_failed_list(log_in, aesthetician, live_server):
    (session,) = book(booked_plan(starts=[timezone.now() + dt.timedelta(days=10)]))
    Message.objects.filter(kind="confirmation").update(status="failed", last_error="SMTPRecipientsRefused: 550")
    page = log_in(aesthetician)
    page.locator("#failed-messages a").click()
    row = page.locator('.message-row[data-kind="confirmation"]')
    assert "550" in row.inner_text()
    row.get_by_role("button", name="Resend").click()
    assert page.get_by_text("will be sent within a minute").is_visible()
    assert Message.objects.get(kind="confirmation").status == MessageStatus.PENDING


def test_the_client_timeline_partial_resends_in_place_with_htmx(log_in, aesthetician, live_server):
    (session,) = book(booked_plan(starts=[timezone.now() + dt.timedelta(days=10)]))
    Message.objects.filter(kind="confirmation").update(status="failed", last_error="SMTPRecipientsRefused: 550")
    page = log_in(aesthetician)
    # The client page (engine area) embeds this partial; load it on a staff page the same way.
    page.evaluate(
        """url => htmx.ajax('GET', url, {target: 'main', swap: 'innerHTML'})""",
        f"/clients/{session.plan.client_id}/messages/",
    )
    row = page.locator('.message-row[data-kind="confirmation"]')
    row.get_by_role("button", name="Resend").click()
    page.locator('.message-row[data-kind="confirmation"][data-status="pending"]').wait_for()
    assert Message.objects.get(kind="confirmation").status == MessageStatus.PENDING


def test_a_client_cancels_from_the_email_link_without_logging_in(page, live_server):
    (session,) = book(booked_plan(starts=[timezone.now() + dt.timedelta(days=10)]))
    token = make_token(Message.objects.get(kind="reminder:24h"), "cancel")
    page.goto(f"{live_server.url}/e/cancel/{token}/")
    assert page.get_by_role("heading", name="Cancel your appointment?").is_visible()
    page.get_by_role("button", name="Cancel this appointment").click()
    assert page.get_by_role("heading", name="Your appointment is cancelled").is_visible()
    session.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED
