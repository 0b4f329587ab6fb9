"""Races through the front door: concurrent requests to gunicorn on PostgreSQL, released together.

A unit test of one service never shows two endpoints locking the same rows in different
orders; these fire the real endpoints at a real server behind a barrier and assert that
nobody gets a 5xx and the database stays consistent.
"""

import datetime as dt

import pytest

from bench.server import staff_cookies
from plans import models, scheduling
from plans.forms.booking import proposal_json
from plans.services import booking, safety
from tests.factories import PractitionerFactory, RoomFactory
from tests.helpers.clinic import weekday_hours
from tests.helpers.clock import at
from tests.helpers.http_races import DAY, NEEDS_POSTGRES, ON_POSTGRES, ROUNDS, TODAY, fire, minutes_from_today, wall
from tests.helpers.plans import plan_to_book
from tests.helpers.records import record_post
from tests.helpers.safety import check_answers

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason=NEEDS_POSTGRES),
    pytest.mark.django_db(transaction=True),
]


def test_book_all_racing_a_single_booking_of_its_session_never_answers_500(clinic, race_server):
    ana = clinic["ana"]
    cookies = staff_cookies("ana")
    for _ in range(ROUNDS):
        plan = plan_to_book(first_target=DAY, count=3)
        proposal = booking.series_propose(plan=plan, preferences=scheduling.Preferences(practitioner_id=ana.id))
        assert proposal.result.ok
        second = proposal.result.bookings[1]
        statuses = fire(
            race_server,
            [
                (f"/plans/{plan.pk}/book/", {"action": "book", "proposal": proposal_json(proposal.result.bookings)}),
                (
                    f"/sessions/{second.session_key}/book/",
                    {"starts_at": wall(second.slot.start), "practitioner": ana.id, "room": second.slot.room_id},
                ),
            ],
            cookies,
        )
        assert all(s < 500 for s in statuses), statuses
        booked = plan.sessions.filter(status="booked").count()
        # Either "Book all" won (every session) or the single booking did (that one only): never a mix.
        assert booked in (1, 3), booked
        models.PlanSession.objects.filter(plan=plan).update(status="cancelled", cancel_reason="next round")


def test_eight_any_free_room_bookings_at_one_time_all_succeed_while_rooms_are_free(clinic, race_server):
    practitioners = [clinic["ana"], clinic["ben"]]
    for i in range(6):
        practitioners.append(PractitionerFactory(display_name=f"Practitioner {i}"))
        weekday_hours(practitioners[-1])
    for _ in range(32):
        RoomFactory()  # 34 rooms in all
    sessions = [plan_to_book(first_target=DAY, count=1).sessions.get() for _ in practitioners]
    statuses = fire(
        race_server,
        [
            (f"/sessions/{s.pk}/book/", {"starts_at": wall(at(DAY, 10)), "practitioner": p.id, "room": ""})
            for s, p in zip(sessions, practitioners, strict=True)
        ],
        staff_cookies("ana"),
    )
    assert statuses == [200] * 8
    rooms = list(models.PlanSession.objects.filter(status="booked").values_list("room_id", flat=True))
    assert len(rooms) == 8 and len(set(rooms)) == 8


def test_reschedule_complete_cancel_and_no_show_racing_on_one_session_never_answer_500(clinic, race_server):
    ana = clinic["ana"]
    cookies = staff_cookies("ana")
    for n in range(ROUNDS):
        # A fresh room each round: a round's completed or moved session keeps its own.
        here, there = RoomFactory(), RoomFactory()
        session = plan_to_book(first_target=TODAY, count=1).sessions.get()
        # Started a few minutes ago, so completing is allowed; the booking service refuses
        # past times, so the appointment is placed directly.
        start = minutes_from_today(n)  # one a round: Ana is busy once
        models.PlanSession.objects.filter(pk=session.pk).update(
            status="booked",
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=1),
            blocked_until=start + dt.timedelta(minutes=1),
            practitioner=ana,
            room=here,
        )
        # The client's re-screen at check-in, so completing can win the race too.
        safety.pre_session_check_record(session=session, answers=check_answers(), by=None)
        statuses = fire(
            race_server,
            [
                (
                    f"/sessions/{session.pk}/reschedule/",
                    {"starts_at": wall(at(DAY, 9 + n)), "practitioner": ana.id, "room": there.id},
                ),
                (f"/sessions/{session.pk}/complete/", record_post(session) | {"notes": "fine"}),
                (f"/sessions/{session.pk}/cancel/", {"by_client": "1", "reason": "client asked"}),
                (f"/sessions/{session.pk}/no-show/", {}),
            ],
            cookies,
        )
        assert all(s < 500 for s in statuses), statuses
        session.refresh_from_db()
        assert session.status in ("booked", "completed", "cancelled", "no_show")
        if session.status == "completed":
            assert session.completed_at and session.starts_at == start
        elif session.status == "cancelled":
            assert session.cancel_reason == "client asked"
            # Cancelled: no reminder may still go out.
            open_messages = models.Message.objects.filter(session=session, status__in=["pending", "sending"])
            assert not open_messages.filter(kind__startswith="reminder").exists()
        elif session.status == "no_show":
            assert session.starts_at == start
        else:  # only moved (the move won, and the others were refused once it had not started)
            assert session.room_id == there.id and session.starts_at == at(DAY, 9 + n)


def test_two_check_in_taps_at_once_record_one_arrival_and_answer_the_other_409(clinic, race_server):
    """Two tablets tap Check in together (with a no-show and a start racing them): one arrival
    is recorded, the other tap is told it is done already, and a no-show never sticks to a
    client who checked in."""
    ana = clinic["ana"]
    cookies = staff_cookies("ana")
    for n in range(ROUNDS):
        session = plan_to_book(first_target=TODAY, count=1).sessions.get()
        # Began a few minutes ago today (the booking service refuses past times, so placed directly).
        start = minutes_from_today(n)
        models.PlanSession.objects.filter(pk=session.pk).update(
            status="booked",
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=1),
            blocked_until=start + dt.timedelta(minutes=1),
            practitioner=ana,
        )
        safety.pre_session_check_record(session=session, answers=check_answers(), by=None)
        check_in = (f"/sessions/{session.pk}/check-in/", {})
        racers = [check_in, check_in] if n % 2 else [check_in, check_in, (f"/sessions/{session.pk}/no-show/", {})]
        racers.append((f"/sessions/{session.pk}/start/", {}))
        statuses = fire(race_server, racers, cookies)
        assert all(s < 500 for s in statuses), statuses
        session.refresh_from_db()
        taps = statuses[:2]
        if session.status == "no_show":  # the no-show won: both check-ins were refused
            assert session.checked_in_at is None and session.started_at is None and 200 not in taps
        else:
            assert sorted(taps) == [200, 409], statuses
            assert session.checked_in_at is not None and session.checked_in_by.username == "ana"
            # The start either came after the arrival (200) or was refused before it (400).
            assert (session.started_at is not None) == (statuses[-1] == 200), statuses
