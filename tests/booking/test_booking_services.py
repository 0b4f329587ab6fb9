"""Booking services and the session state methods behind them."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from plans import models, scheduling
from plans.models import IllegalTransition, SessionStatus
from plans.services import booking
from tests.helpers.clock import LONDON, at
from tests.helpers.plans import plan_to_book
from tests.helpers.records import complete
from tests.helpers.safety import record_check

pytestmark = pytest.mark.usefixtures("frozen_clock")

MON = dt.date(2027, 3, 1)


def book_all(plan, **prefs):
    proposal = booking.series_propose(plan=plan, preferences=scheduling.Preferences(**prefs))
    assert proposal.result.ok, proposal.result.problem
    return booking.series_book(plan=plan, proposal=proposal.result.bookings)


def test_book_all_books_every_session_on_target_in_one_go(clinic):
    plan = plan_to_book(first_target=MON, peel_after=1, follow_up=True)
    booked = book_all(plan, practitioner_id=clinic["ana"].id)
    assert len(booked) == 5
    for s in plan.sessions.all():
        assert s.status == SessionStatus.BOOKED
        assert s.practitioner == clinic["ana"] and s.room is not None
        assert s.earliest <= s.local_date() <= s.latest
        assert s.blocked_until == s.starts_at + dt.timedelta(minutes=s.duration_minutes + s.buffer_minutes)


def test_book_all_is_all_or_nothing_when_one_slot_was_taken_meanwhile(clinic):
    plan = plan_to_book(first_target=MON)
    proposal = booking.series_propose(plan=plan, preferences=scheduling.Preferences(practitioner_id=clinic["ana"].id))
    other = plan_to_book(first_target=MON + dt.timedelta(days=56), count=1)
    third = proposal.result.bookings[2].slot
    booking.session_book(
        session=other.sessions.get(), starts_at=third.start, practitioner=clinic["ana"], room=clinic["room_b"]
    )
    with pytest.raises(booking.SlotTaken, match="Ana Silva is already booked"):
        booking.series_book(plan=plan, proposal=proposal.result.bookings)
    assert not plan.sessions.filter(status=SessionStatus.BOOKED).exists()


def test_booking_an_occupied_slot_is_refused_with_who_holds_it(clinic):
    first, second = plan_to_book(first_target=MON, count=1), plan_to_book(first_target=MON, count=1)
    booking.session_book(session=first.sessions.get(), starts_at=at(MON, 10), practitioner=clinic["ana"])
    with pytest.raises(booking.SlotTaken, match=r"Ana Silva is already booked Mon 01 Mar 10:00–11:15"):
        booking.session_book(session=second.sessions.get(), starts_at=at(MON, 10, 30), practitioner=clinic["ana"])
    # Another practitioner at the same time gets the other room.
    s = booking.session_book(session=second.sessions.get(), starts_at=at(MON, 10, 30), practitioner=clinic["ben"])
    assert s.room == clinic["room_b"]


def test_booking_outside_working_hours_or_on_time_off_is_refused(clinic):
    plan = plan_to_book(first_target=MON, count=1)
    with pytest.raises(booking.BookingError, match="outside working hours"):
        booking.session_book(session=plan.sessions.get(), starts_at=at(MON, 16, 30), practitioner=clinic["ana"])
    models.TimeOff.objects.create(practitioner=clinic["ana"], starts_at=at(MON, 0), ends_at=at(MON, 23))
    with pytest.raises(booking.BookingError, match="on time off"):
        booking.session_book(session=plan.sessions.get(), starts_at=at(MON, 10), practitioner=clinic["ana"])


def test_booking_outside_the_window_needs_a_reason_which_is_recorded(clinic):
    plan = plan_to_book(first_target=MON, count=1)
    late = at(MON + dt.timedelta(days=10), 10)
    with pytest.raises(booking.BookingError, match="outside its window"):
        booking.session_book(session=plan.sessions.get(), starts_at=late, practitioner=clinic["ana"])
    s = booking.session_book(
        session=plan.sessions.get(), starts_at=late, practitioner=clinic["ana"], override_reason="Client away"
    )
    assert s.window_override_reason == "Client away"


def test_rescheduling_session_two_moves_session_three_to_keep_min_interval(clinic):
    plan = plan_to_book(first_target=MON, spread=10)
    book_all(plan, practitioner_id=clinic["ana"].id)
    s1, s2, s3 = plan.sessions.order_by("sequence")
    new_start = at(MON + dt.timedelta(days=38), 11)
    with pytest.raises(booking.CascadeRequired) as raised:
        booking.session_reschedule(session=s2, starts_at=new_start, practitioner=clinic["ana"])
    (shift,) = raised.value.shifts
    assert shift.session_key == s3.id
    assert shift.new_slot.local_date(booking.clinic_tz()) == MON + dt.timedelta(days=59)  # exactly 21 days later
    assert shift.new_slot.start.astimezone(booking.clinic_tz()).time() == dt.time(9)  # its old time of day
    s3.refresh_from_db()
    assert s3.local_date() == MON + dt.timedelta(days=56) and s3.version == 0  # nothing written yet
    assert models.PlanSession.objects.get(pk=s2.pk).starts_at != new_start
    moved = booking.session_reschedule(
        session=s2,
        starts_at=new_start,
        practitioner=clinic["ana"],
        cascade=[booking.ShiftRequest(shift.session_key, shift.new_slot.start)],
    )
    assert [m.id for m in moved] == [s2.id, s3.id]
    s2.refresh_from_db()
    s3.refresh_from_db()
    assert s2.starts_at == new_start and s2.version == 1 and s3.version == 1
    assert (s3.local_date() - s2.local_date()).days >= 21


def test_moving_beyond_latest_requires_the_override(clinic):
    plan = plan_to_book(first_target=MON, count=2, spread=3, interval_min_days=27)
    book_all(plan, practitioner_id=clinic["ana"].id)
    s1, s2 = plan.sessions.order_by("sequence")
    too_late = at(MON + dt.timedelta(days=7), 10)
    with pytest.raises(booking.CascadeRequired) as raised:
        booking.session_reschedule(session=s1, starts_at=too_late, practitioner=clinic["ana"])
    (shift,) = raised.value.shifts
    assert shift.outside_window  # session 2 would need day 34+, its latest is day 31
    cascade = [booking.ShiftRequest(shift.session_key, shift.new_slot.start)]
    with pytest.raises(booking.BookingError, match="past its latest date"):
        booking.session_reschedule(session=s1, starts_at=too_late, practitioner=clinic["ana"], cascade=cascade)
    assert models.PlanSession.objects.get(pk=s1.pk).version == 0
    booking.session_reschedule(
        session=s1, starts_at=too_late, practitioner=clinic["ana"], cascade=cascade, override_reason="Client on holiday"
    )
    s1.refresh_from_db()
    s2.refresh_from_db()
    assert s1.window_override_reason == "Client on holiday" == s2.window_override_reason
    assert (s2.local_date() - s1.local_date()).days >= 27


def test_moving_outside_the_window_without_cascade_needs_a_reason(clinic):
    plan = plan_to_book(first_target=MON, count=1, spread=3)
    (s,) = book_all(plan, practitioner_id=clinic["ana"].id)
    with pytest.raises(booking.BookingError, match="outside its window"):
        booking.session_reschedule(session=s, starts_at=at(MON + dt.timedelta(days=7), 10), practitioner=clinic["ana"])


def test_cancel_complete_and_no_show_through_services(clinic, frozen_clock):
    plan = plan_to_book(first_target=MON, count=2, follow_up=True)
    book_all(plan, practitioner_id=clinic["ana"].id)
    s1, s2, follow = plan.sessions.order_by("sequence")
    with pytest.raises(booking.BookingError, match="has not started"):
        complete(s1, "0.5")
    frozen_clock.move_to(s2.starts_at + dt.timedelta(hours=2))
    record_check(s2)  # the client's re-screen at check-in for session 2 counts for session 1's record too
    with pytest.raises(booking.BookingError, match="above the protocol's cap of 1.5 mm"):
        complete(s1, "2.0")
    complete(s1, "0.5", notes="Fine")
    complete(s2, "0.5")
    follow.refresh_from_db()
    assert follow.target == timezone_localdate(s2) + dt.timedelta(days=84)
    with pytest.raises(booking.BookingError, match="Only a booked session can be cancelled"):
        booking.session_cancel(session=s1, by_client=True, reason="Too late")


def timezone_localdate(session):
    session.refresh_from_db()
    return session.local_date()


def test_no_show_and_cancel_free_the_slot(clinic, frozen_clock):
    plan = plan_to_book(first_target=MON, count=1)
    other = plan_to_book(first_target=MON, count=1)
    (s,) = book_all(plan, practitioner_id=clinic["ana"].id)
    with pytest.raises(booking.BookingError, match="reason"):
        booking.session_cancel(session=s, by_client=True, reason="  ")
    booking.session_cancel(session=s, by_client=True, reason="Flu")
    s.refresh_from_db()
    assert s.status == SessionStatus.CANCELLED and s.cancelled_by_client and s.version == 1
    booking.session_book(session=other.sessions.get(), starts_at=s.starts_at, practitioner=clinic["ana"])


# --- State methods refuse illegal moves -------------------------------------------------------


def test_state_methods_refuse_illegal_moves(clinic):
    plan = plan_to_book(first_target=MON, count=1)
    s = plan.sessions.get()
    now = at(dt.date(2027, 2, 1), 8)
    with pytest.raises(IllegalTransition, match="in the past"):
        s.book(starts_at=at(dt.date(2027, 1, 1), 10), practitioner=clinic["ana"], room=clinic["room_a"], now=now)
    with pytest.raises(IllegalTransition, match="Only a booked session can be moved"):
        s.reschedule(starts_at=at(MON, 10), practitioner=clinic["ana"], room=clinic["room_a"], now=now)
    s.book(starts_at=at(MON, 10), practitioner=clinic["ana"], room=clinic["room_a"], now=now)
    with pytest.raises(IllegalTransition, match="already booked"):
        s.book(starts_at=at(MON, 11), practitioner=clinic["ana"], room=clinic["room_a"], now=now)
    with pytest.raises(IllegalTransition, match="has not started"):
        s.mark_no_show(now=now)
    s.cancel(by_client=False, reason="Clinic closed", now=now)
    with pytest.raises(IllegalTransition, match="Only a booked session can be completed"):
        s.complete(depth_used_mm=Decimal("0.5"), notes="", depth_cap_mm=Decimal("1.5"), now=now)
    s.book(starts_at=at(MON, 11), practitioner=clinic["ana"], room=clinic["room_a"], now=now)
    later = at(MON, 13)
    with pytest.raises(IllegalTransition, match="above 0 mm"):
        s.complete(depth_used_mm=Decimal("0"), notes="", depth_cap_mm=Decimal("1.5"), now=later)
    with pytest.raises(IllegalTransition, match="Record the needle depth"):
        s.complete(depth_used_mm=None, notes="", depth_cap_mm=Decimal("1.5"), now=later)


def test_series_proposed_across_the_spring_clock_change_stays_at_nine_local(clinic, frozen_clock):
    after_change = dt.date(2027, 3, 29)  # Monday after the last Sunday of March: BST
    plan = plan_to_book(
        first_target=after_change - dt.timedelta(days=7),
        count=2,
        spread=0,
        interval_target_days=7,
        interval_min_days=7,
        interval_max_days=7,
    )
    booked = book_all(plan, practitioner_id=clinic["ana"].id)
    assert [timezone.localtime(s.starts_at).time() for s in booked] == [dt.time(9), dt.time(9)]
    assert booked[0].starts_at == dt.datetime(2027, 3, 22, 9, tzinfo=dt.UTC)  # GMT
    assert booked[1].starts_at == dt.datetime(2027, 3, 29, 8, tzinfo=dt.UTC)  # BST


# --- Re-booking cancelled and missed sessions -------------------------------------------------


def test_a_cancelled_session_is_offered_again_by_auto_fit_and_booked_again(clinic):
    plan = plan_to_book(first_target=MON)
    book_all(plan, practitioner_id=clinic["ana"].id)
    s1, s2, s3 = plan.sessions.order_by("sequence")
    booking.session_cancel(session=s2, by_client=True, reason="Flu")
    proposal = booking.series_propose(plan=plan, preferences=scheduling.Preferences(practitioner_id=clinic["ana"].id))
    assert proposal.result.ok
    assert [session.id for session, _ in proposal.rows] == [s2.id]
    (again,) = booking.series_book(plan=plan, proposal=proposal.result.bookings)
    again.refresh_from_db()
    assert again.status == SessionStatus.BOOKED and again.version == 2  # booked, cancelled, booked again
    assert again.cancel_reason == "" and again.cancelled_at is None
    # Still between its neighbours, which did not move, by the interval rules.
    s1.refresh_from_db(), s3.refresh_from_db()
    assert 21 <= (again.local_date() - s1.local_date()).days <= 42
    assert 21 <= (s3.local_date() - again.local_date()).days <= 42


def test_a_missed_session_is_refitted_within_what_the_booked_sessions_after_it_allow(clinic, frozen_clock):
    plan = plan_to_book(first_target=MON, count=2)
    book_all(plan, practitioner_id=clinic["ana"].id)
    s1, s2 = plan.sessions.order_by("sequence")
    now = s1.starts_at + dt.timedelta(hours=2)
    frozen_clock.move_to(now)
    booking.session_mark_no_show(session=s1)
    proposal = booking.series_propose(plan=plan, preferences=scheduling.Preferences(practitioner_id=clinic["ana"].id))
    assert proposal.result.ok, proposal.result.problem
    ((session, b),) = proposal.rows
    day = b.slot.local_date(LONDON)
    # Not in the past, inside its window, and still at least 21 days before booked session 2.
    assert session.id == s1.id and b.slot.start >= now
    assert s1.earliest <= day <= s1.latest and (s2.local_date() - day).days >= 21
    (again,) = booking.series_book(plan=plan, proposal=proposal.result.bookings)
    assert again.status == SessionStatus.BOOKED


def test_a_cancelled_session_past_its_window_is_left_out_and_does_not_block_the_rest(clinic, frozen_clock):
    plan = plan_to_book(first_target=MON)
    book_all(plan, practitioner_id=clinic["ana"].id)
    s1, s2, s3 = plan.sessions.order_by("sequence")
    booking.session_cancel(session=s1, by_client=True, reason="Flu")
    booking.session_cancel(session=s2, by_client=True, reason="Moving house")
    frozen_clock.move_to(at(s1.latest + dt.timedelta(days=1), 8))
    proposal = booking.series_propose(plan=plan, preferences=scheduling.Preferences(practitioner_id=clinic["ana"].id))
    assert proposal.result.ok
    assert [session.id for session, _ in proposal.rows] == [s2.id]


def test_series_book_refuses_a_rebooking_that_breaks_a_later_booked_sessions_interval(clinic):
    plan = plan_to_book(first_target=MON)
    book_all(plan, practitioner_id=clinic["ana"].id)
    s1, s2, s3 = plan.sessions.order_by("sequence")
    booking.session_cancel(session=s2, by_client=False, reason="Clinic closed")
    day = s3.local_date() - dt.timedelta(days=7)  # inside session 2's window, too close to session 3
    slot = scheduling.Slot(clinic["ana"].id, clinic["room_a"].id, at(day, 9), at(day, 10), at(day, 10, 15))
    with pytest.raises(booking.BookingError, match="at least 21 days after the previous session"):
        booking.series_book(plan=plan, proposal=[scheduling.ProposedBooking(s2.id, "", slot)])
    s2.refresh_from_db()
    assert s2.status == SessionStatus.CANCELLED


# --- Query count --------------------------------------------------------------------------------


def test_series_propose_reads_the_same_few_queries_for_a_short_and_a_long_plan(clinic):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for count in (1, 6):
        plan = plan_to_book(first_target=MON + dt.timedelta(days=7 * count), count=count, peel_after=1)
        with CaptureQueriesContext(connection) as ctx:
            proposal = booking.series_propose(plan=plan, preferences=scheduling.Preferences())
        assert proposal.result.ok and len(proposal.rows) == plan.sessions.count()
        counts.append(len(ctx.captured_queries))
    # The plan's sessions, then practitioners, working hours, time off, bookings and rooms.
    assert counts == [6, 6]


def test_completing_the_last_session_moves_the_review_visit_with_the_final_assessment(clinic, frozen_clock):
    plan = plan_to_book(first_target=MON, count=1, follow_up=True)
    s1 = plan.sessions.get(kind="microneedling")
    booking.session_book(session=s1, starts_at=at(MON, 10), practitioner=clinic["ana"])
    follow = plan.sessions.get(kind="follow_up")
    gap = dt.timedelta(days=98)  # the 6-month review sits 182 - 84 days after the final assessment
    review = plan.sessions.get(pk=follow.pk)
    review.pk = review.id = None
    review.sequence, review.title = follow.sequence + 1, "Review and maintenance"
    review.earliest, review.target, review.latest = follow.earliest + gap, follow.target + gap, follow.latest + gap
    review.save()
    frozen_clock.move_to(at(MON, 12))
    record_check(s1)
    complete(s1, "0.5")

    follow.refresh_from_db()
    review.refresh_from_db()
    assert follow.target == MON + dt.timedelta(days=84)
    assert review.target - follow.target == gap
