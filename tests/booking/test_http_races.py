"""Races through the front door: concurrent requests to gunicorn on PostgreSQL, released together.

A unit test of one service never shows two endpoints locking the same rows in different
orders; these fire the real endpoints at a real server behind a barrier and assert that
nobody gets a 5xx and the database stays consistent.
"""

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import connection

from bench.server import Server, csrf_headers, staff_cookies, stop
from plans import models, scheduling
from plans.forms.booking import proposal_json
from plans.services import booking, safety
from tests.factories import PractitionerFactory, RoomFactory
from tests.helpers.clinic import weekday_hours
from tests.helpers.clock import LONDON, at
from tests.helpers.plans import plan_to_book
from tests.helpers.records import record_post
from tests.helpers.safety import check_answers

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL: SQLite serialises every writer, so nothing races"),
    pytest.mark.django_db(transaction=True),
]
ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date.today()
DAY = TODAY + dt.timedelta(days=60 - TODAY.weekday())  # a Monday about two months ahead
ROUNDS = 8


@pytest.fixture
def server(tmp_path):
    """gunicorn on the test database. The test binds the socket and hands gunicorn its
    descriptor, so requests queue in the backlog until a worker takes them: no wait for
    the server to come up."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "SECRET_KEY": settings.SECRET_KEY,  # so the sessions staff_cookies writes are valid there
        "DEBUG": "true",
        "ALLOWED_HOSTS": "127.0.0.1",
        "CLINIC_VAR_DIR": str(tmp_path),  # the outbox's filesystem broker writes here
        "LOG_LEVEL": "WARNING",
    }
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "clinic.wsgi:application",
            "--bind", f"fd://{sock.fileno()}", "--workers", "2", "--threads", "8",
            "--worker-class", "gthread", "--timeout", "120", "--access-logfile", "/dev/null",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=log, pass_fds=[sock.fileno()],
    )  # fmt: skip
    try:
        yield Server("127.0.0.1", sock.getsockname()[1])
    finally:
        stop(proc)
        log.close()
        sock.close()
        errors = (tmp_path / "gunicorn.log").read_text(errors="replace")
        # A 500 logs a traceback: fail with it, so the cause is in the report.
        assert "Traceback" not in errors, errors[-5000:]


def fire(server: Server, requests: list[tuple[str, dict]], cookies) -> list[int]:
    """POST every (path, form) at once (a barrier releases the threads together); the statuses, in order."""
    barrier = threading.Barrier(len(requests))
    statuses: list[int] = [0] * len(requests)
    headers = {**csrf_headers(cookies, server), "Accept": "application/json"}

    def send(i: int, path: str, form: dict) -> None:
        barrier.wait(timeout=60)
        body = urlencode(form).encode()
        statuses[i], _, _ = server.request("POST", path, cookies=cookies, body=body, headers=headers)

    threads = [threading.Thread(target=send, args=(i, *r)) for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return statuses


def wall(moment: dt.datetime) -> str:
    return moment.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")


def test_book_all_racing_a_single_booking_of_its_session_never_answers_500(clinic, server):
    ana = clinic["ana"]
    cookies = staff_cookies("ana")
    for _ in range(ROUNDS):
        plan = plan_to_book(first_target=DAY, count=3)
        proposal = booking.series_propose(plan=plan, preferences=scheduling.Preferences(practitioner_id=ana.id))
        assert proposal.result.ok
        second = proposal.result.bookings[1]
        statuses = fire(
            server,
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


def test_eight_any_free_room_bookings_at_one_time_all_succeed_while_rooms_are_free(clinic, server):
    practitioners = [clinic["ana"], clinic["ben"]]
    for i in range(6):
        practitioners.append(PractitionerFactory(display_name=f"Practitioner {i}"))
        weekday_hours(practitioners[-1])
    for _ in range(32):
        RoomFactory()  # 34 rooms in all
    sessions = [plan_to_book(first_target=DAY, count=1).sessions.get() for _ in practitioners]
    statuses = fire(
        server,
        [
            (f"/sessions/{s.pk}/book/", {"starts_at": wall(at(DAY, 10)), "practitioner": p.id, "room": ""})
            for s, p in zip(sessions, practitioners, strict=True)
        ],
        staff_cookies("ana"),
    )
    assert statuses == [200] * 8
    rooms = list(models.PlanSession.objects.filter(status="booked").values_list("room_id", flat=True))
    assert len(rooms) == 8 and len(set(rooms)) == 8


def test_reschedule_complete_cancel_and_no_show_racing_on_one_session_never_answer_500(clinic, server):
    ana = clinic["ana"]
    cookies = staff_cookies("ana")
    for n in range(ROUNDS):
        # A fresh room each round: a round's completed or moved session keeps its own.
        here, there = RoomFactory(), RoomFactory()
        session = plan_to_book(first_target=TODAY, count=1).sessions.get()
        # Started a few minutes ago, so completing is allowed; the booking service refuses
        # past times, so the appointment is placed directly.
        start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5 + 2 * n)  # one a round: Ana is busy once
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
            server,
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
