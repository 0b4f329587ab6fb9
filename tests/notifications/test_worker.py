"""Real Celery workers (subprocesses) on the same database as the test, delivering to aiosmtpd.

The worker runs in real time, so bookings are made with the clock moved back instead:
"now" is then the later moment at which the emails fall due.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from icalendar import Calendar

from plans import outbox
from plans.models import Message, MessageStatus
from plans.tasks import send_messages, sweep_due_messages
from tests.helpers.clock import LONDON, as_client_reads
from tests.helpers.outbox import attachment, book, text_body
from tests.helpers.plans import booked_plan
from tests.helpers.ports import free_port

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
ROOT = Path(settings.BASE_DIR)


def test_database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


def child_env(smtp_port: int, broker_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DEBUG="true",
        DATABASE_URL=test_database_url(),
        CELERY_BROKER_URL=broker_url,
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        EMAIL_TIMEOUT="5",
        **extra,
    )
    return env


class Workers:
    """Starts worker subprocesses and always kills them at teardown."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen] = []

    def start(self, env: dict[str, str], *options: str) -> subprocess.Popen:
        log = self.tmp_path / f"worker-{len(self.procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "clinic", "worker", "--pool=solo", "--loglevel=INFO",
                 "--without-heartbeat", "--without-mingle", "--without-gossip",
                 "-n", f"test-{os.getpid()}-{len(self.procs)}@%h", *options],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        proc.log = log
        self.procs.append(proc)
        deadline = time.monotonic() + 60
        while b"ready." not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


@pytest.fixture
def workers(tmp_path):
    w = Workers(tmp_path)
    yield w
    w.stop_all()


@pytest.fixture
def broker_url():
    """The suite's broker (Redis DB given by CELERY_BROKER_URL, or the filesystem broker), emptied."""
    from clinic.celery import app

    app.control.purge()
    yield settings.CELERY_BROKER_URL
    app.control.purge()


def wait_until(predicate, timeout: float = 30, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_booking_then_sweep_then_a_real_worker_delivers_each_email_once(smtp_server, workers, broker_url):
    real_now = timezone.now()
    booked_at = real_now - dt.timedelta(minutes=10)
    starts = (booked_at + dt.timedelta(hours=48, minutes=5)).astimezone(LONDON).replace(second=0, microsecond=0)
    with time_machine.travel(booked_at, tick=False):
        plan = booked_plan(starts=[starts])
        (session,) = book(plan)
    # Session 1 is under three days away: its baseline questionnaire is due at once too.
    kinds = {"confirmation", "reminder:48h", "reminder:24h", "questionnaire:baseline"}
    assert set(Message.objects.values_list("kind", flat=True)) == kinds

    workers.start(child_env(smtp_server.port, broker_url))
    assert sweep_due_messages() == 3
    assert sweep_due_messages() == 0  # the rows are with the broker already: not queued twice
    arrived = smtp_server.wait_for(3)
    wait_until(lambda: Message.objects.filter(status=MessageStatus.SENT).count() == 3, what="rows marked sent")
    for row in Message.objects.filter(status=MessageStatus.SENT):
        send_messages.delay([row.pk])  # a duplicate task for an already sent row

    # A later row, enqueued last: the solo worker handles tasks in order, so once it has
    # arrived every duplicate before it has been handled too.
    marker = Message.objects.get(kind="reminder:24h")
    Message.objects.filter(pk=marker.pk).update(send_at=timezone.now())
    send_messages.delay([marker.pk])
    arrived = smtp_server.wait_for(4)
    time.sleep(0.5)
    assert len(smtp_server.received) == 4

    when = as_client_reads(starts, timezone.now())
    confirmation = next(m for m in arrived if m["Subject"].startswith("Booking confirmed"))
    reminders = [m for m in arrived if m["Subject"].startswith("Reminder")]
    assert len(reminders) == 2 and len({m["Message-ID"] for m in arrived}) == 4
    for message in arrived:
        assert message["X-Envelope-To"] == plan.client.email
        assert message["To"] == plan.client.email
        assert when in message["Subject"] or when in text_body(message)
    (event,) = Calendar.from_ical(attachment(confirmation)).walk("VEVENT")
    assert str(event["UID"]) == f"session-{session.pk}@clinic.example"
    assert event["SEQUENCE"] == 0
    assert event["DTSTART"].params["TZID"] == "Europe/London"
    assert event.decoded("DTSTART") == starts
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 4


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server to run a broker it can stop")
def test_with_the_broker_down_booking_works_rows_stay_pending_and_go_out_when_it_is_back(
    smtp_server, workers, tmp_path
):
    port = free_port()
    own_broker = f"redis://127.0.0.1:{port}/0"
    plan = booked_plan(starts=[timezone.now() + dt.timedelta(days=10)])
    script = (
        "import django; django.setup()\n"
        "from django.db import transaction\n"
        "from plans import outbox\n"
        "from plans.models import PlanSession\n"
        "from plans.tasks import sweep_due_messages\n"
        f"with transaction.atomic():\n"
        f"    outbox.on_sessions_booked(list(PlanSession.objects.filter(plan_id={plan.pk})))\n"
        "print('queued', sweep_due_messages())\n"
    )
    env = child_env(smtp_server.port, own_broker, DJANGO_SETTINGS_MODULE="clinic.settings")
    # Nothing listens on the port: booking must still commit, and the sweep must give up quickly.
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "queued 0" in result.stdout
    assert "Broker unavailable" in result.stderr
    # Confirmation, three reminders and the baseline questionnaire (due three days before).
    assert Message.objects.filter(status=MessageStatus.PENDING).count() == 5

    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).returncode == 0
                   and True, what="redis")  # fmt: skip
        workers.start(env)
        sweep = subprocess.run(
            [sys.executable, "-c", "import django; django.setup()\n"
             "from plans.tasks import sweep_due_messages; print('queued', sweep_due_messages())"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert "queued 1" in sweep.stdout, sweep.stderr[-3000:]
        (confirmation,) = smtp_server.wait_for(1)
        assert confirmation["Subject"].startswith("Booking confirmed")
        wait_until(lambda: Message.objects.filter(kind="confirmation", status=MessageStatus.SENT).exists())
    finally:
        redis.terminate()
        redis.wait(10)


def test_a_worker_killed_mid_send_leaves_a_row_that_is_sent_after_its_lease_expires(smtp_server, workers, broker_url):
    plan = booked_plan(starts=[timezone.now() + dt.timedelta(days=10)])
    book(plan)
    row = Message.objects.get(kind="confirmation")
    smtp_server.stall = True
    worker = workers.start(child_env(smtp_server.port, broker_url, NOTIFICATIONS_LEASE_SECONDS="3"))
    assert sweep_due_messages() == 1
    assert smtp_server.data_started.wait(30), worker.log.read_text()[-2000:]
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    row.refresh_from_db()
    assert row.status == MessageStatus.SENDING and row.attempts == 1
    assert sweep_due_messages() == 0  # still leased: nobody else may take it yet

    smtp_server.stall = False
    wait_until(lambda: timezone.now() > row.lease_until, timeout=10, what="the lease to expire")
    workers.start(child_env(smtp_server.port, broker_url))
    with transaction.atomic():
        assert row.pk in outbox.sweep_due(timezone.now())
    sweep_due_messages()
    (email,) = smtp_server.wait_for(1)
    assert email["Subject"].startswith("Booking confirmed")
    wait_until(lambda: Message.objects.get(pk=row.pk).status == MessageStatus.SENT, what="the row marked sent")
    row.refresh_from_db()
    assert row.attempts == 2
    assert [a.succeeded for a in row.delivery_attempts.all()] == [True]


def test_rows_a_killed_worker_held_in_reserve_go_out_soon_after_their_lease(smtp_server, workers, broker_url, settings):
    """SIGKILL a worker holding one row mid-send and the next task reserved: both rows go out,
    once each, as soon as their leases end (seconds here), not ten minutes later."""
    settings.NOTIFICATIONS_SEND_BATCH = 1
    settings.NOTIFICATIONS_REQUEUE_SECONDS = 3
    for _ in range(2):
        book(booked_plan(starts=[timezone.now() + dt.timedelta(days=10)]))
    rows = list(Message.objects.filter(kind="confirmation").order_by("pk"))
    smtp_server.stall = True
    # One thread with a prefetch of two: one task runs (stalled in DATA), the other waits reserved.
    # (The solo pool fetches nothing while a task runs, so it would hold one task only.)
    env = child_env(smtp_server.port, broker_url, NOTIFICATIONS_LEASE_SECONDS="3")
    env["EMAIL_TIMEOUT"] = "60"  # it must still be stalled, not timed out, when it is killed
    worker = workers.start(env, "--pool=threads", "--concurrency=1", "--prefetch-multiplier=2")
    assert sweep_due_messages() == 2
    assert smtp_server.data_started.wait(30), worker.log.read_text()[-2000:]
    wait_until(lambda: worker.log.read_bytes().count(b"] received") >= 2, what="the second task reserved")
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    smtp_server.stall = False
    held = sorted((m.status, m.queued_at is None) for m in Message.objects.filter(pk__in=[r.pk for r in rows]))
    assert held == [(MessageStatus.PENDING, False), (MessageStatus.SENDING, True)]  # one mid-send, one reserved

    workers.start(child_env(smtp_server.port, broker_url))
    deadline = time.monotonic() + 30
    while Message.objects.filter(pk__in=[r.pk for r in rows], status=MessageStatus.SENT).count() < 2:
        assert time.monotonic() < deadline, (
            list(Message.objects.filter(kind="confirmation").values("status", "queued_at", "lease_until", "attempts")),
            workers.procs[-1].log.read_text()[-3000:],
        )
        sweep_due_messages()  # what beat does every minute, here as often as the test polls
        time.sleep(0.5)
    assert len(smtp_server.wait_for(2)) == 2
    for row in rows:
        row.refresh_from_db()
        assert [a.succeeded for a in row.delivery_attempts.all()] == [True]
