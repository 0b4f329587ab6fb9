"""Never double-booked, even when many people click at once (PostgreSQL: real parallel connections)."""

import datetime as dt
import threading

import pytest
from django.conf import settings
from django.db import IntegrityError, connection, transaction

from plans import models, scheduling
from plans.services import booking
from tests.factories import RoomFactory
from tests.helpers.clock import at
from tests.helpers.plans import plan_to_book

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not ON_POSTGRES, reason="needs PostgreSQL: SQLite serialises every writer, so there is no race to test"
    ),
]

DAY = dt.date.today() + dt.timedelta(days=60 - dt.date.today().weekday())  # a Monday ~2 months ahead


def run_parallel(jobs):
    """Run callables in threads released together; each thread has its own DB connection."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def worker(i, job):
        try:
            barrier.wait()
            results[i] = ("ok", job())
        except Exception as exc:  # the outcome is the assertion, whatever it is
            results[i] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


@pytest.mark.django_db(transaction=True)
def test_twenty_four_parallel_bookings_of_one_practitioner_exactly_one_wins(clinic):
    ana = clinic["ana"]
    plans = [plan_to_book(first_target=DAY, count=1) for _ in range(24)]
    rooms = [RoomFactory() for _ in range(24)]  # separate rooms: only the practitioner is contended
    jobs = [
        (
            lambda p=p, r=r, i=i: booking.session_book(
                session=p.sessions.get(), starts_at=at(DAY, 10, i), practitioner=ana, room=r
            )
        )
        for i, (p, r) in enumerate(zip(plans, rooms, strict=True))
    ]
    results = run_parallel(jobs)
    wins = [r for r in results if r[0] == "ok"]
    losses = [r[1] for r in results if r[0] == "error"]
    assert len(wins) == 1
    assert len(losses) == 23
    assert all(isinstance(e, booking.SlotTaken) for e in losses), {type(e).__name__: str(e) for e in losses}
    assert all("Ana Silva is already booked" in str(e) or "same moment" in str(e) for e in losses)
    assert models.PlanSession.objects.filter(status="booked").count() == 1


@pytest.mark.django_db(transaction=True)
def test_book_all_racing_a_single_booking_one_wins_and_nothing_partial(clinic):
    ana = clinic["ana"]
    for _round in range(3):
        models.PlanSession.objects.all().delete()
        plan = plan_to_book(first_target=DAY, count=3)
        proposal = booking.series_propose(plan=plan, preferences=scheduling.Preferences(practitioner_id=ana.id))
        assert proposal.result.ok
        contested = proposal.result.bookings[1].slot
        single = plan_to_book(first_target=DAY + dt.timedelta(days=28), count=1).sessions.get()
        results = run_parallel(
            [
                lambda plan=plan, proposal=proposal: booking.series_book(plan=plan, proposal=proposal.result.bookings),
                lambda single=single, contested=contested: booking.session_book(
                    session=single,
                    starts_at=contested.start + dt.timedelta(minutes=15),
                    practitioner=ana,
                    room=clinic["room_b"],
                ),
            ]
        )
        outcomes = [r[0] for r in results]
        assert outcomes.count("ok") == 1, results
        loser = next(r[1] for r in results if r[0] == "error")
        assert isinstance(loser, booking.SlotTaken)
        booked_in_series = plan.sessions.filter(status="booked").count()
        assert booked_in_series in (0, 3)  # never partial
        assert (booked_in_series == 3) == (results[0][0] == "ok")


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_overlapping_bookings_written_around_the_service(clinic):
    a, b = (
        plan_to_book(first_target=DAY, count=1).sessions.get(),
        plan_to_book(first_target=DAY, count=1).sessions.get(),
    )
    for s, room in ((a, clinic["room_a"]), (b, clinic["room_b"])):
        s.status = "booked"
        s.practitioner = clinic["ana"]
        s.room = room
        s.starts_at = at(DAY, 10)
        s.ends_at = at(DAY, 11)
        s.blocked_until = at(DAY, 11, 15)
    a.save()
    with pytest.raises(IntegrityError, match="session_practitioner_no_overlap"), transaction.atomic():
        b.save()
    b.practitioner = clinic["ben"]
    b.room = clinic["room_a"]
    with pytest.raises(IntegrityError, match="session_room_no_overlap"), transaction.atomic():
        b.save()
    b.starts_at, b.ends_at, b.blocked_until = at(DAY, 11, 15), at(DAY, 12, 15), at(DAY, 12, 30)
    b.save()  # back to back is fine: ranges are half-open


@pytest.mark.django_db(transaction=True)
def test_a_constraint_violation_surfaces_as_slot_taken(clinic, monkeypatch):
    a, b = (
        plan_to_book(first_target=DAY, count=1).sessions.get(),
        plan_to_book(first_target=DAY, count=1).sessions.get(),
    )
    booking.session_book(session=a, starts_at=at(DAY, 10), practitioner=clinic["ana"], room=clinic["room_a"])
    # As if the overlap check had raced: only the constraint stands in the way.
    monkeypatch.setattr(booking, "_conflict", lambda **kwargs: None)
    with pytest.raises(booking.SlotTaken, match="same moment"):
        booking.session_book(session=b, starts_at=at(DAY, 10, 30), practitioner=clinic["ana"], room=clinic["room_b"])
    assert models.PlanSession.objects.filter(status="booked").count() == 1


def _wait_until_blocked(pid: int) -> None:
    """Until backend `pid` waits for a row lock (bounded: a lock wait shows within moments)."""
    with connection.cursor() as cursor:
        for _ in range(10_000):
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
            row = cursor.fetchone()
            if row and row[0] == "Lock":
                return
    raise AssertionError(f"backend {pid} never waited for a lock")


@pytest.mark.django_db(transaction=True)
def test_a_booking_chosen_as_deadlock_victim_is_retried_and_succeeds(clinic, caplog):
    """A writer outside the service takes the practitioner, then the plan: the opposite order.
    PostgreSQL breaks the deadlock by aborting one side; if that is the booking, the service
    runs it again once the other side is gone, so the caller still gets its booking."""
    ana = clinic["ana"]
    session = plan_to_book(first_target=DAY, count=1).sessions.get()
    pid: list[int] = []
    ready = threading.Event()
    results: list = []

    def book():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pid.append(cursor.fetchone()[0])
            ready.set()
            s = booking.session_book(session=session, starts_at=at(DAY, 10), practitioner=ana, room=clinic["room_a"])
            results.append(("booked", s))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results.append(("booking failed", exc))
        finally:
            connection.close()

    def other_order():
        booker = threading.Thread(target=book)
        try:
            with transaction.atomic():
                list(models.Practitioner.objects.select_for_update().filter(pk=ana.pk))
                booker.start()
                assert ready.wait(timeout=30)
                _wait_until_blocked(pid[0])  # the booking holds the plan and waits for Ana
                list(models.TreatmentPlan.objects.select_for_update().filter(pk=session.plan_id))
        except Exception as exc:  # noqa: BLE001 - the deadlock victim may be this side
            results.append(("other side aborted", exc))
        finally:
            connection.close()
        booker.join(timeout=60)

    runner = threading.Thread(target=other_order)
    runner.start()
    runner.join(timeout=90)
    assert [r[0] for r in results if r[0] == "booked"] == ["booked"], results
    # There was a deadlock, and whichever side lost it, the booking stands.
    assert "lock conflict on attempt 1" in caplog.text or any(r[0] == "other side aborted" for r in results)
    session.refresh_from_db()
    assert session.status == "booked" and session.practitioner_id == ana.id
