"""Delivering outbox rows to a real SMTP server on loopback, in this process (no worker)."""

import datetime as dt
import threading

import pytest
import time_machine
from django.db import connection, connections
from icalendar import Calendar

from plans import outbox
from plans.models import DeliveryAttempt, Message, MessageStatus
from plans.outbox import delivery
from plans.services.messages import message_resend
from tests.helpers.clock import local
from tests.helpers.outbox import attachment, book, cancel, complete, reschedule, text_body
from tests.helpers.plans import booked_plan

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def deliver_due(now):
    with time_machine.travel(now, tick=False):
        return {i: outbox.deliver(i) for i in outbox.sweep_due(now)}


def test_a_due_reminder_arrives_with_the_local_time_clinic_details_pre_care_and_an_invitation(smtp_server):
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        plan = booked_plan(starts=[local(2026, 1, 20), local(2026, 2, 17)])
        first, _ = book(plan)
    deliver_due(local(2026, 1, 5, 10, 1))
    (confirmation,) = smtp_server.wait_for(1)
    assert "Microneedling session 1 of 3" in text_body(confirmation)
    assert "Tuesday 17 February at 09:00" in text_body(confirmation)

    results = deliver_due(local(2026, 1, 13, 9, 0, 30))
    assert list(results.values()) == ["sent"]
    reminder = smtp_server.wait_for(2)[1]
    client = plan.client
    assert reminder["X-Envelope-To"] == client.email
    assert reminder["Subject"] == "Reminder: Microneedling session 1 of 3 on Tuesday 20 January at 09:00"
    body = text_body(reminder)
    assert f"Dear {client.first_name}" in body
    assert "Stop retinoids" in body  # the 7-day reminder carries the pre-care notes
    assert "1 High Street, London" in body and "+44 20 7946 0000" in body
    assert reminder.get_body(preferencelist=("html",)) is not None
    row = Message.objects.get(session=first, kind="reminder:168h")
    assert reminder["Message-ID"] == f"<msg-{row.pk}-v0@clinic.example>" == row.message_id
    assert reminder["List-Unsubscribe"].strip().startswith("<http://127.0.0.1:8000/e/unsubscribe/")
    assert reminder["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    calendar = Calendar.from_ical(attachment(reminder))
    assert calendar["METHOD"] == "REQUEST"
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == f"session-{first.pk}@clinic.example"
    assert event["SEQUENCE"] == 0
    assert event.decoded("DTSTART") == local(2026, 1, 20, 9)
    assert event["DTSTART"].params["TZID"] == "Europe/London"
    # The zone's rules travel with the invitation, for the years around the event (a compact file).
    (zone,) = calendar.walk("VTIMEZONE")
    assert zone["TZID"] == "Europe/London"
    assert zone.to_tz().utcoffset(dt.datetime(2026, 7, 1, 12)) == dt.timedelta(hours=1)
    assert zone.to_tz().utcoffset(dt.datetime(2026, 1, 20, 9)) == dt.timedelta(0)
    assert len(attachment(reminder)) < 4000
    assert row.status == MessageStatus.SENT and row.sent_at == local(2026, 1, 13, 9, 0, 30)
    assert DeliveryAttempt.objects.get(message=row).succeeded


def test_sweeping_twice_and_sending_twice_delivers_one_email(smtp_server):
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        book(booked_plan(starts=[local(2026, 1, 20)]))
    now = local(2026, 1, 5, 10, 1)
    with time_machine.travel(now, tick=False):
        first_sweep, second_sweep = outbox.sweep_due(now), outbox.sweep_due(now)
        assert first_sweep == second_sweep != []
        outcomes = [outbox.deliver(i) for i in first_sweep + second_sweep]
    assert outcomes == ["sent", "not-claimed"]
    assert len(smtp_server.wait_for(1)) == 1
    with time_machine.travel(now, tick=False):
        assert outbox.sweep_due(now) == []


def test_a_transient_smtp_error_backs_off_then_fails_after_the_maximum_attempts(smtp_server, settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        (session,) = book(booked_plan(starts=[local(2026, 1, 20)]))
    smtp_server.rcpt_reply = "451 4.3.0 Mailbox temporarily unavailable"
    row = Message.objects.get(session=session, kind="confirmation")
    now = local(2026, 1, 5, 10, 0, 30)
    for attempt, delay in ((1, 60), (2, 120)):
        with time_machine.travel(now, tick=False):
            assert outbox.deliver(row.pk) == "retry"
        row.refresh_from_db()
        assert row.status == MessageStatus.PENDING and row.attempts == attempt
        assert row.send_at == now + dt.timedelta(seconds=delay)
        assert "451" in row.last_error
        with time_machine.travel(now, tick=False):
            assert outbox.deliver(row.pk) == "not-claimed"  # not due again yet
        now = row.send_at
    with time_machine.travel(now, tick=False):
        assert outbox.deliver(row.pk) == "failed"
    row.refresh_from_db()
    assert row.status == MessageStatus.FAILED
    attempts = list(row.delivery_attempts.all())
    assert [(a.succeeded, a.permanent, a.smtp_code) for a in attempts] == [(False, False, 451)] * 3
    assert smtp_server.received == []


def test_backoff_is_capped(settings):
    settings.NOTIFICATIONS_BACKOFF_SECONDS, settings.NOTIFICATIONS_BACKOFF_MAX_SECONDS = 60, 600
    assert [outbox.backoff_delay(n).total_seconds() for n in (1, 2, 3, 4, 5, 9)] == [60, 120, 240, 480, 600, 600]


def test_a_refused_recipient_fails_at_once_and_staff_can_resend(smtp_server, clinic_admin):
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        (session,) = book(booked_plan(starts=[local(2026, 1, 20)]))
    smtp_server.rcpt_reply = "550 5.1.1 No such user here"
    results = deliver_due(local(2026, 1, 5, 10, 1))
    assert list(results.values()) == ["failed"]
    row = Message.objects.get(session=session, kind="confirmation")
    assert row.status == MessageStatus.FAILED and row.attempts == 1 and "550" in row.last_error
    assert row.delivery_attempts.get().permanent

    smtp_server.rcpt_reply = ""
    with time_machine.travel(local(2026, 1, 5, 11), tick=False):
        message_resend(message=row, by=clinic_admin)
    assert list(deliver_due(local(2026, 1, 5, 11, 1)).values()) == ["sent"]
    assert len(smtp_server.wait_for(1)) == 1


def test_cancelling_after_the_send_was_enqueued_sends_nothing(smtp_server):
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        (session,) = book(booked_plan(starts=[local(2026, 1, 20)]))
    now = local(2026, 1, 19, 9, 0, 30)
    with time_machine.travel(now, tick=False):
        Message.objects.filter(kind="confirmation").update(status="sent", sent_at=now)
        enqueued = outbox.sweep_due(now)
        cancel(session)
        outcomes = [outbox.deliver(i) for i in enqueued]
    assert outcomes == ["not-claimed"]
    kinds_sent = [m["Subject"] for m in smtp_server.received]
    assert not any(s.startswith("Reminder") for s in kinds_sent)
    assert Message.objects.get(session=session, kind="reminder:24h").status == MessageStatus.CANCELLED


def test_rescheduling_after_the_send_was_enqueued_sends_nothing_for_the_old_time(smtp_server):
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        (session,) = book(booked_plan(starts=[local(2026, 1, 20)]))
        Message.objects.filter(kind="confirmation").update(status="sent", sent_at=local(2026, 1, 5, 10))
    now = local(2026, 1, 19, 9, 0, 30)
    with time_machine.travel(now, tick=False):
        enqueued = outbox.sweep_due(now)
        assert len(enqueued) == 1
        reschedule(session, local(2026, 1, 27, 9))
        assert outbox.deliver(enqueued[0]) == "not-claimed"
        assert list(deliver_due(now).values()) == ["sent"]  # the update, with the new time
    (update,) = smtp_server.wait_for(1)
    assert "Tuesday 27 January at 09:00" in update["Subject"]
    (event,) = Calendar.from_ical(attachment(update)).walk("VEVENT")
    assert event["SEQUENCE"] == 1
    assert Message.objects.get(session=session, kind="reminder:24h").send_at == local(2026, 1, 26, 9)


def test_a_claimed_row_re_timed_by_a_reschedule_is_not_marked_sent_by_the_old_claim():
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        (session,) = book(booked_plan(starts=[local(2026, 1, 20)]))
    row = Message.objects.get(session=session, kind="reminder:24h")
    now = local(2026, 1, 19, 9, 0, 30)
    assert outbox.claim(row.pk, now, token="worker-a")
    with time_machine.travel(now, tick=False):
        reschedule(session, local(2026, 1, 27, 9))
    assert not delivery._finish(row.pk, "worker-a", lambda m: None)
    row.refresh_from_db()
    assert row.status == MessageStatus.PENDING and row.send_at == local(2026, 1, 26, 9)


def test_a_message_whose_moment_passed_long_ago_is_expired_not_sent(smtp_server, settings):
    settings.NOTIFICATIONS_GRACE_MINUTES = 120
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        (session,) = book(booked_plan(starts=[local(2026, 1, 20)]))
    # Beat was down for a day: the 7-day reminder is 26 hours late.
    results = deliver_due(local(2026, 1, 14, 11))
    assert all(outcome != "sent" for outcome in results.values())
    assert Message.objects.get(session=session, kind="reminder:168h").status == MessageStatus.EXPIRED
    assert Message.objects.get(session=session, kind="confirmation").status == MessageStatus.EXPIRED
    assert smtp_server.received == []


def test_unsubscribing_before_the_send_cancels_it_at_delivery(smtp_server):
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        plan = booked_plan(starts=[local(2026, 1, 20)])
        book(plan)
    plan.client.email_consent = False
    plan.client.save()
    assert list(deliver_due(local(2026, 1, 5, 10, 1)).values()) == ["cancelled"]
    assert smtp_server.received == []


def test_the_0900_appointment_after_the_clocks_change_is_reminded_at_the_right_instant_saying_0900(smtp_server):
    with time_machine.travel(local(2026, 3, 1, 10), tick=False):
        (session,) = book(booked_plan(starts=[local(2026, 3, 30, 9)]))
        Message.objects.filter(kind="confirmation").update(status="sent", sent_at=local(2026, 3, 1, 10))
    assert deliver_due(dt.datetime(2026, 3, 29, 7, 59, tzinfo=UTC)) == {}
    results = deliver_due(dt.datetime(2026, 3, 29, 8, 0, tzinfo=UTC))
    assert list(results.values()) == ["sent"]
    (reminder,) = smtp_server.wait_for(1)
    assert "Monday 30 March at 09:00" in text_body(reminder)
    (event,) = Calendar.from_ical(attachment(reminder)).walk("VEVENT")
    assert event.decoded("DTSTART").utcoffset() == dt.timedelta(hours=1)
    assert event.decoded("DTSTART").hour == 9


def test_cancellation_notice_carries_a_calendar_cancel_and_care_notes_follow_completion(smtp_server):
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        first, second, third = book(booked_plan(starts=[local(2026, 1, 20), local(2026, 2, 17), local(2026, 3, 17)]))
        Message.objects.filter(kind="confirmation").update(status="sent", sent_at=local(2026, 1, 5, 10))
        cancel(second)
    deliver_due(local(2026, 1, 5, 10, 1))
    (notice,) = smtp_server.wait_for(1)
    assert notice["Subject"].startswith("Cancelled: Microneedling session 2 of 3")
    calendar = Calendar.from_ical(attachment(notice))
    assert calendar["METHOD"] == "CANCEL"
    assert str(calendar.walk("VEVENT")[0]["UID"]) == f"session-{second.pk}@clinic.example"

    with time_machine.travel(local(2026, 3, 17, 10, 10), tick=False):
        complete(third, local(2026, 3, 17, 10, 10))
    deliver_due(local(2026, 3, 17, 10, 11))
    subjects = sorted(m["Subject"] for m in smtp_server.wait_for(3)[1:])
    assert subjects == ["Aftercare: The first 24 hours", "Your follow-up assessment at Demo Skin Clinic"]
    invite = next(m for m in smtp_server.received if "follow-up" in m["Subject"])
    assert "Tuesday 9 June" in text_body(invite)  # 84 days after 17 March
    deliver_due(local(2026, 3, 18, 9, 0, 30))
    assert smtp_server.wait_for(4)[3]["Subject"] == "Aftercare: Days 1 to 3"


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_the_same_row_at_once_exactly_one_wins():
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        book(booked_plan(starts=[local(2030, 1, 20)]))
    rows = list(Message.objects.filter(kind__startswith="reminder").values_list("pk", flat=True))
    now = local(2030, 1, 19, 12)
    for pk in rows:
        barrier = threading.Barrier(4)
        wins = []

        def worker(pk=pk, barrier=barrier, wins=wins):
            try:
                barrier.wait()
                wins.append(outbox.claim(pk, now))
            finally:
                connections.close_all()

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(wins) == [False, False, False, True], connection.vendor
    assert Message.objects.filter(status=MessageStatus.SENDING).count() == len(rows)


def test_an_unreachable_mail_server_is_a_transient_error(settings):
    from tests.helpers.ports import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        book(booked_plan(starts=[local(2026, 1, 20)]))
    assert list(deliver_due(local(2026, 1, 5, 10, 1)).values()) == ["retry"]
    row = Message.objects.get(kind="confirmation")
    assert row.status == MessageStatus.PENDING and "ConnectionRefused" in row.last_error
    assert not row.delivery_attempts.get().permanent


def test_a_message_that_cannot_be_rendered_fails_for_staff_to_see(smtp_server):
    with time_machine.travel(local(2026, 1, 20, 10, 5), tick=False):
        (session,) = book(booked_plan(starts=[local(2026, 1, 20)]))
        Message.objects.filter(session=session).update(status="cancelled")
        complete(session, local(2026, 1, 20, 10, 5))
        plan = session.plan
        plan.protocol_snapshot = {**plan.protocol_snapshot, "care_notes": []}  # the note vanished
        plan.save()
    results = deliver_due(local(2026, 1, 20, 10, 6))
    assert list(results.values()) == ["failed"]
    row = Message.objects.get(kind="care:post-0")
    assert "LookupError" in row.last_error and row.delivery_attempts.get().permanent
    assert smtp_server.received == []


def test_a_row_whose_workers_keep_dying_gives_up_after_the_maximum_attempts(settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS, settings.NOTIFICATIONS_LEASE_SECONDS = 2, 60
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        book(booked_plan(starts=[local(2026, 1, 20)]))
    row = Message.objects.get(kind="confirmation")
    assert outbox.claim(row.pk, local(2026, 1, 5, 10, 0, 1))  # worker dies
    assert not outbox.claim(row.pk, local(2026, 1, 5, 10, 0, 30))  # lease still held
    assert outbox.claim(row.pk, local(2026, 1, 5, 10, 1, 2))  # taken over, dies again
    with time_machine.travel(local(2026, 1, 5, 10, 2, 3), tick=False):
        assert outbox.deliver(row.pk) == "failed"
    row.refresh_from_db()
    assert row.status == MessageStatus.FAILED and "Gave up after 2 attempts" in row.last_error


def test_message_state_methods_refuse_illegal_moves():
    from plans.models import IllegalMessageTransition

    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        book(booked_plan(starts=[local(2026, 1, 20)]))
    row = Message.objects.get(kind="confirmation")
    with pytest.raises(IllegalMessageTransition, match="is pending; it cannot become sent"):
        row.mark_sent(at=local(2026, 1, 5, 10), message_id="<x@y>")
    with pytest.raises(IllegalMessageTransition):
        row.requeue_after_failure(now=local(2026, 1, 5, 10))
    row.cancel("test")
    with pytest.raises(IllegalMessageTransition):
        row.expire("test")
