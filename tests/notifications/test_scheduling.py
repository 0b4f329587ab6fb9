"""Which outbox rows a booking, reschedule, cancel or completion writes, and when they are due."""

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError, transaction

from plans import outbox
from plans.models import Message, MessageStatus, SessionStatus
from tests.factories import ClientFactory
from tests.helpers.clock import local
from tests.helpers.outbox import book, cancel, complete, reschedule
from tests.helpers.plans import booked_plan

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def kinds(session):
    return {m.kind: m for m in Message.objects.filter(session=session)}


@time_machine.travel(local(2026, 1, 5, 10), tick=False)
def test_booking_writes_one_confirmation_for_the_series_and_three_reminders_per_session():
    plan = booked_plan(starts=[local(2026, 1, 20), local(2026, 2, 17), local(2026, 3, 17)])
    first, second, third = book(plan)

    confirmation = Message.objects.get(kind="confirmation")
    assert confirmation.session == first
    assert confirmation.covers_sessions == [first.pk, second.pk, third.pk]
    assert confirmation.send_at == dt.datetime(2026, 1, 5, 10, tzinfo=UTC)
    for session in (first, second, third):
        assert set(kinds(session)) >= {"reminder:168h", "reminder:48h", "reminder:24h"}
    rows = kinds(first)
    assert rows["reminder:168h"].send_at == dt.datetime(2026, 1, 13, 9, tzinfo=UTC)
    assert rows["reminder:48h"].send_at == dt.datetime(2026, 1, 18, 9, tzinfo=UTC)
    assert rows["reminder:24h"].send_at == dt.datetime(2026, 1, 19, 9, tzinfo=UTC)
    assert all(m.status == MessageStatus.PENDING and m.session_version == 0 for m in Message.objects.all())


@time_machine.travel(local(2026, 1, 5, 10), tick=False)
def test_reminders_whose_moment_has_passed_at_booking_are_not_written():
    plan = booked_plan(starts=[local(2026, 1, 7, 9)])  # 47 hours away
    (session,) = book(plan)
    # Booked this close, session 1's baseline questionnaire goes at once.
    assert set(kinds(session)) == {"confirmation", "reminder:24h", "questionnaire:baseline"}


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_booking_leaves_no_rows():
    plan = booked_plan(starts=[local(2030, 1, 20)])
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.on_sessions_booked(list(plan.sessions.all()))
        assert Message.objects.count() == 5  # confirmation, three reminders, the baseline questionnaire
        raise RuntimeError("the booking failed after the hook ran")
    assert Message.objects.count() == 0


def test_the_database_refuses_a_second_row_for_the_same_session_and_kind():
    plan = booked_plan(starts=[local(2030, 1, 20)])
    (session,) = book(plan)
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            client=plan.client, session=session, kind="reminder:24h", send_at=session.starts_at, session_version=0
        )
    book(plan)  # the hook called twice re-times, never duplicates
    assert Message.objects.filter(session=session, kind="reminder:24h").count() == 1


@pytest.mark.parametrize(
    ("email", "consent", "reason"),
    [("", True, "no email address"), ("x@example.com", False, "not consented")],
)
def test_clients_who_cannot_be_emailed_get_cancelled_rows_that_say_why(email, consent, reason):
    client = ClientFactory(email=email, email_consent=consent)
    book(booked_plan(client=client, starts=[local(2030, 1, 20)]))
    rows = Message.objects.filter(client=client)
    assert rows.count() == 4
    assert all(m.status == MessageStatus.CANCELLED and reason in m.status_reason for m in rows)
    assert outbox.sweep_due(dt.datetime(2030, 1, 19, 9, tzinfo=UTC)) == []


def test_rescheduling_re_times_the_same_reminder_rows_and_writes_one_update_per_reschedule():
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        (session,) = book(booked_plan(starts=[local(2026, 1, 20)]))
        Message.objects.filter(kind="confirmation").update(status="sent", sent_at=local(2026, 1, 5, 10))
        before = {k: m.pk for k, m in kinds(session).items()}
        reschedule(session, local(2026, 1, 27, 14))
    rows = kinds(session)
    assert {k: rows[k].pk for k in before} == before
    assert rows["reminder:24h"].send_at == dt.datetime(2026, 1, 26, 14, tzinfo=UTC)
    assert rows["reminder:24h"].session_version == 1
    assert rows["update:v1"].status == MessageStatus.PENDING

    with time_machine.travel(local(2026, 1, 6, 10), tick=False):
        reschedule(session, local(2026, 1, 28, 11))
    rows = kinds(session)
    assert rows["update:v1"].status == MessageStatus.CANCELLED
    assert rows["update:v2"].status == MessageStatus.PENDING
    assert Message.objects.filter(session=session, kind__startswith="update:").count() == 2
    assert rows["reminder:168h"].send_at == dt.datetime(2026, 1, 21, 11, tzinfo=UTC)


def test_a_reminder_already_sent_for_the_old_time_is_sent_again_for_the_new_time():
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        (session,) = book(booked_plan(starts=[local(2026, 1, 20)]))
    Message.objects.filter(session=session, kind="reminder:168h").update(status="sent", sent_at=local(2026, 1, 13))
    with time_machine.travel(local(2026, 1, 14, 10), tick=False):
        reschedule(session, local(2026, 2, 3))
    reminder = kinds(session)["reminder:168h"]
    assert reminder.status == MessageStatus.PENDING and reminder.sent_at is None
    assert reminder.send_at == dt.datetime(2026, 1, 27, 9, tzinfo=UTC)


def test_moving_a_session_closer_cancels_the_reminders_whose_moment_has_passed():
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        (session,) = book(booked_plan(starts=[local(2026, 1, 20)]))
        reschedule(session, local(2026, 1, 6, 15))
    rows = kinds(session)
    assert rows["reminder:168h"].status == MessageStatus.CANCELLED
    assert rows["reminder:48h"].status == MessageStatus.CANCELLED
    assert rows["reminder:24h"].status == MessageStatus.PENDING
    # The confirmation had not gone out, so it tells the new time: no separate update.
    assert "update:v1" not in rows


def test_cancelling_cancels_pending_rows_and_writes_a_cancellation_notice():
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        first, second = book(booked_plan(starts=[local(2026, 1, 20), local(2026, 2, 17)]))
        cancel(second)
    assert {m.status for k, m in kinds(second).items() if k.startswith("reminder")} == {MessageStatus.CANCELLED}
    assert kinds(second)["cancellation"].status == MessageStatus.PENDING
    # The series confirmation still has news about the first session.
    assert kinds(first)["confirmation"].status == MessageStatus.PENDING
    cancel(first)
    assert kinds(first)["confirmation"].status == MessageStatus.CANCELLED


def test_completion_schedules_post_care_notes_and_after_the_last_session_the_follow_up_invitation():
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        plan = booked_plan(starts=[local(2026, 1, 20), local(2026, 2, 17), local(2026, 3, 17)], follow_up=True)
        sessions = book(plan)
    with time_machine.travel(local(2026, 1, 20, 10, 5), tick=False):
        complete(sessions[0], local(2026, 1, 20, 10, 5))
    rows = kinds(sessions[0])
    assert rows["care:post-0"].send_at == dt.datetime(2026, 1, 20, 10, 5, tzinfo=UTC)
    assert rows["care:post-1"].send_at == dt.datetime(2026, 1, 21, 9, tzinfo=UTC)
    assert rows["care:post-5"].send_at == dt.datetime(2026, 1, 25, 9, tzinfo=UTC)
    assert "care:pre-7" not in rows and "follow_up_invite" not in rows

    with time_machine.travel(local(2026, 3, 17, 10, 5), tick=False):
        complete(sessions[2], local(2026, 3, 17, 10, 5))
    assert kinds(sessions[2])["follow_up_invite"].status == MessageStatus.PENDING
    assert sessions[2].status == SessionStatus.COMPLETED


def test_a_booked_follow_up_session_gets_its_own_confirmation_and_reminders():
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        plan = booked_plan(starts=[local(2026, 1, 20)], follow_up=True)
        book(plan)
        follow_up = plan.sessions.get(kind="follow_up")
        follow_up.status, follow_up.practitioner = SessionStatus.BOOKED, plan.sessions.first().practitioner
        follow_up.starts_at = local(2026, 4, 14, 11)
        follow_up.ends_at = follow_up.blocked_until = local(2026, 4, 14, 11, 30)
        follow_up.save()
        with transaction.atomic():
            outbox.on_sessions_booked([follow_up])
    assert set(kinds(follow_up)) == {"confirmation", "reminder:168h", "reminder:48h", "reminder:24h"}


def test_a_0900_session_the_day_after_the_clocks_go_forward_is_reminded_at_0900_local():
    # British Summer Time starts at 01:00 UTC on Sunday 29 March 2026.
    with time_machine.travel(local(2026, 3, 1, 10), tick=False):
        (session,) = book(booked_plan(starts=[local(2026, 3, 30, 9)]))
    assert session.starts_at == dt.datetime(2026, 3, 30, 8, tzinfo=UTC)
    rows = kinds(session)
    assert rows["reminder:24h"].send_at == dt.datetime(2026, 3, 29, 8, tzinfo=UTC)  # 09:00 BST
    assert rows["reminder:48h"].send_at == dt.datetime(2026, 3, 28, 9, tzinfo=UTC)  # 09:00 GMT
    assert rows["reminder:168h"].send_at == dt.datetime(2026, 3, 23, 9, tzinfo=UTC)  # 09:00 GMT


def test_hooks_refuse_a_session_in_the_wrong_state():
    plan = booked_plan(starts=[local(2030, 1, 20)])
    session = plan.sessions.get()
    with pytest.raises(ValueError, match="expects it cancelled"):
        outbox.on_session_cancelled(session)


def test_booking_a_six_session_series_writes_its_rows_in_a_bounded_number_of_queries(django_assert_max_num_queries):
    starts = [local(2030, 1, 7) + dt.timedelta(weeks=4 * n) for n in range(6)]
    plan = booked_plan(starts=starts)
    sessions = list(plan.sessions.select_related("plan__client").order_by("sequence"))
    # 3 more than before for session 1's questionnaire (its response row, its message): still
    # bounded whatever the number of sessions.
    with django_assert_max_num_queries(54), transaction.atomic():
        outbox.on_sessions_booked(sessions)
    assert Message.objects.count() == 1 + 6 * 3 + 1


def test_a_reschedule_that_did_not_raise_the_session_version_is_refused():
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        (session,) = book(booked_plan(starts=[local(2026, 1, 20)]))
        session.starts_at = local(2026, 1, 21)
        with pytest.raises(ValueError, match="without raising its version"), transaction.atomic():
            outbox.on_session_rescheduled(session)
