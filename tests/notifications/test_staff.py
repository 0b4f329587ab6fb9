"""What staff see of the outbox: the client's timeline, the failed/pending list, Resend, the admin."""

import pytest
import time_machine
from django.urls import reverse

from plans.models import Message, MessageStatus
from tests.factories import ClientFactory
from tests.helpers.clock import local
from tests.helpers.outbox import book
from tests.helpers.plans import booked_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def outbox():
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        (session,) = book(booked_plan(starts=[local(2026, 1, 20)]))
    failed = Message.objects.get(session=session, kind="reminder:48h")
    Message.objects.filter(pk=failed.pk).update(status="failed", last_error="SMTPRecipientsRefused: 550 No such user")
    return session


def test_the_client_timeline_shows_each_message_with_its_status_and_error(client, aesthetician, outbox):
    client.force_login(aesthetician)
    response = client.get(reverse("client-messages", args=[outbox.plan.client_id]))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="message-row"') == 5  # confirmation, 3 reminders, the baseline questionnaire
    assert "550 No such user" in html and "Resend" in html


def test_the_timeline_warns_when_a_client_gets_no_email(client, aesthetician):
    no_consent = ClientFactory(email_consent=False)
    book(booked_plan(client=no_consent, starts=[local(2030, 1, 20)]))
    client.force_login(aesthetician)
    html = client.get(reverse("client-messages", args=[no_consent.pk])).content.decode()
    assert "No email consent" in html
    assert "Not sent: the client has not consented to email." in html


def test_resend_puts_a_failed_message_back_in_the_queue(client, aesthetician, outbox):
    client.force_login(aesthetician)
    failed = Message.objects.get(status="failed")
    response = client.post(reverse("message-resend", args=[failed.pk]), {"next": "/messages/"})
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == MessageStatus.PENDING and failed.attempts == 0


def test_resend_refuses_a_message_that_has_not_failed(client, aesthetician, outbox):
    client.force_login(aesthetician)
    pending = Message.objects.get(kind="reminder:24h")
    response = client.post(reverse("message-resend", args=[pending.pk]), follow=True)
    assert b"cannot become pending" in response.content
    pending.refresh_from_db()
    assert pending.status == MessageStatus.PENDING


def test_the_messages_page_lists_failed_and_pending_and_filters_by_status_and_kind(client, aesthetician, outbox):
    client.force_login(aesthetician)
    assert client.get(reverse("messages")).content.decode().count('class="message-row"') == 5
    failed_only = client.get(reverse("messages"), {"status": "failed"}).content.decode()
    assert failed_only.count('class="message-row"') == 1
    reminders = client.get(reverse("messages"), {"kind": "reminder"}).content.decode()
    assert reminders.count('class="message-row"') == 3


def test_the_dashboard_counts_failed_messages(client, aesthetician, outbox):
    client.force_login(aesthetician)
    html = client.get(reverse("home")).content.decode()
    assert "1 email to clients failed" in html


def test_staff_pages_need_a_login(client, outbox):
    assert client.get(reverse("messages")).status_code == 302
    assert client.get(reverse("client-messages", args=[outbox.plan.client_id])).status_code == 302


def test_the_admin_lists_messages_read_only_with_status_and_kind_filters(client, clinic_admin, outbox):
    client.force_login(clinic_admin)
    listing = client.get("/admin/plans/message/", {"status__exact": "failed", "family": "reminder"})
    assert listing.status_code == 200 and b"Reminder, 2 days before" in listing.content
    assert client.get("/admin/plans/message/add/").status_code == 403


def test_the_timeline_query_count_does_not_grow_with_the_number_of_messages(
    client, aesthetician, outbox, django_assert_max_num_queries
):
    client.force_login(aesthetician)
    with django_assert_max_num_queries(8):
        client.get(reverse("client-messages", args=[outbox.plan.client_id]))


def test_the_today_page_is_not_green_while_due_emails_are_not_going_out(client, aesthetician, smtp_server):
    """A running worker is not the same as delivered email: the line reads the outbox."""
    from plans import outbox as delivery
    from plans.tasks import record_heartbeat

    client.force_login(aesthetician)
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        book(booked_plan(starts=[local(2026, 1, 20)]))
    with time_machine.travel(local(2026, 1, 5, 10, 20), tick=False):
        record_heartbeat()  # the worker answers, but nothing was delivered
        html = client.get(reverse("home")).content.decode()
        assert "alert-success" not in html
        assert "1 email to clients is overdue" in html and "No email has been sent yet" in html
        (confirmation,) = delivery.sweep_due()
        assert delivery.deliver(confirmation) == "sent"
    with time_machine.travel(local(2026, 1, 5, 10, 22), tick=False):
        html = client.get(reverse("home")).content.decode()
    assert "overdue" not in html and "alert-success" in html
    assert "Last email sent 2\xa0minutes ago" in html


def test_the_delivery_line_is_read_in_one_statement_with_or_without_a_worker_ever_seen(
    aesthetician, smtp_server, django_assert_num_queries
):
    """outbox_health composes one SELECT of scalar subqueries: it must give the same figures
    before any heartbeat row exists (a fresh install) as after, on either database."""
    from plans import outbox as delivery
    from plans.models import Message, MessageStatus
    from plans.outbox.health import outbox_health
    from plans.tasks import record_heartbeat

    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        book(booked_plan(starts=[local(2026, 1, 20)]))
    with time_machine.travel(local(2026, 1, 5, 10, 20), tick=False):
        with django_assert_num_queries(1):
            fresh = outbox_health()
        assert (fresh.overdue, fresh.failed, fresh.last_sent_at, fresh.heartbeat_at) == (1, 0, None, None)
        assert fresh.worker_stale and not fresh.ok
        record_heartbeat()
        (confirmation,) = delivery.sweep_due()
        assert delivery.deliver(confirmation) == "sent"
        Message.objects.filter(pk=confirmation).update(status=MessageStatus.FAILED)  # as if bounced later
        with django_assert_num_queries(1):
            seen = outbox_health()
    assert seen.heartbeat_at == local(2026, 1, 5, 10, 20) and not seen.worker_stale
    assert seen.last_sent_at == local(2026, 1, 5, 10, 20)
    assert (seen.overdue, seen.failed) == (0, 1)
