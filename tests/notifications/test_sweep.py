"""The sweep drains a burst in one run, hands each row to the broker once, and loses nothing
when the broker refuses; a batch of rows goes out over one SMTP connection.

The broker is replaced by a recorder here (what is published, and a refusal on demand); the
real Redis broker and worker path is covered by test_worker.py and the dispatch benchmark.
"""

import datetime as dt
import email
import email.policy

import pytest
import time_machine

from plans import outbox, tasks
from plans.models import Message, MessageStatus
from tests.helpers.clock import local
from tests.helpers.outbox import book
from tests.helpers.plans import booked_plan

pytestmark = pytest.mark.django_db

BOOKED_AT = local(2026, 1, 5, 10)
NOW = local(2026, 1, 5, 10, 1)


@pytest.fixture
def burst(settings):
    """Five booking confirmations due now (each plan's reminders fall due weeks later)."""
    settings.NOTIFICATIONS_SWEEP_BATCH = 2
    settings.NOTIFICATIONS_SEND_BATCH = 2
    with time_machine.travel(BOOKED_AT, tick=False):
        for _ in range(5):
            book(booked_plan(starts=[local(2026, 2, 20)]))
    return sorted(Message.objects.filter(kind="confirmation").values_list("pk", flat=True))


class Broker:
    """Stands in for send_messages.delay: records each published batch, refuses when told."""

    def __init__(self, monkeypatch):
        self.published: list[list[int]] = []
        self.refuse_after: int | None = None
        monkeypatch.setattr(tasks.send_messages, "delay", self.delay)

    def delay(self, ids):
        if self.refuse_after is not None and len(self.published) >= self.refuse_after:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        self.published.append(list(ids))

    def ids(self) -> list[int]:
        return sorted(i for batch in self.published for i in batch)


def sweep(at: dt.datetime) -> int:
    with time_machine.travel(at, tick=False):
        return tasks.sweep_due_messages()


def test_one_sweep_hands_out_a_whole_burst_in_batches_and_the_next_sweep_none_of_it(burst, monkeypatch, settings):
    broker = Broker(monkeypatch)
    assert sweep(NOW) == 5  # more than one NOTIFICATIONS_SWEEP_BATCH: the sweep loops until drained
    assert broker.ids() == burst and all(len(batch) <= 2 for batch in broker.published)

    broker.published.clear()
    assert sweep(NOW + dt.timedelta(minutes=1)) == 0  # still waiting in the queue: not queued twice
    assert broker.published == []

    # Never claimed long after it was handed out: the broker lost the tasks, so hand them out again.
    later = NOW + dt.timedelta(seconds=settings.NOTIFICATIONS_REQUEUE_SECONDS + 1)
    assert sweep(later) == 5 and broker.ids() == burst


def test_when_the_broker_refuses_the_unpublished_rows_stay_pending_and_go_out_with_the_next_sweep(
    burst, monkeypatch, caplog
):
    broker = Broker(monkeypatch)
    broker.refuse_after = 1
    assert sweep(NOW) == 2
    published = broker.ids()
    assert "Broker unavailable" in caplog.text
    rows = Message.objects.filter(pk__in=burst)
    assert set(rows.values_list("status", flat=True)) == {MessageStatus.PENDING}
    assert sorted(rows.filter(queued_at=None).values_list("pk", flat=True)) == sorted(set(burst) - set(published))

    broker.refuse_after = None
    broker.published.clear()
    assert sweep(NOW + dt.timedelta(minutes=1)) == 3
    assert sorted(published + broker.ids()) == burst  # every row handed out exactly once overall


def test_a_row_whose_worker_died_is_handed_out_again_when_its_lease_expires(burst, settings):
    with time_machine.travel(NOW, tick=False):
        first, *_ = outbox.hand_out(NOW, limit=5)
        assert outbox.claim(first, NOW)  # a worker took it, then died before recording anything
        assert outbox.hand_out(NOW, limit=5) == []
    after_lease = NOW + dt.timedelta(seconds=settings.NOTIFICATIONS_LEASE_SECONDS + 1)
    # The rows queued with it but never claimed come back too: their queued mark is a lease as well.
    assert first in outbox.hand_out(after_lease, limit=5)


def test_a_batch_goes_out_over_one_smtp_connection_each_row_once(burst, smtp_server):
    with time_machine.travel(NOW, tick=False):
        ids = outbox.hand_out(NOW, limit=5)
        assert outbox.deliver_many(ids) == dict.fromkeys(ids, "sent")
        assert outbox.deliver_many(ids) == dict.fromkeys(ids, "not-claimed")
    assert len(smtp_server.wait_for(5)) == 5
    assert len(set(smtp_server.peers)) == 1
    assert Message.objects.filter(pk__in=burst, status=MessageStatus.SENT, queued_at=None).count() == 5


def test_a_transient_error_releases_the_rest_of_the_batch_for_the_next_sweep(burst, smtp_server):
    smtp_server.rcpt_reply = "451 4.3.0 Try again later"
    with time_machine.travel(NOW, tick=False):
        ids = outbox.hand_out(NOW, limit=5)
        assert outbox.deliver_many(ids) == {ids[0]: "retry"}
    first = Message.objects.get(pk=ids[0])
    assert first.status == MessageStatus.PENDING and first.attempts == 1 and first.send_at > NOW
    rest = Message.objects.filter(pk__in=ids[1:])
    assert set(rest.values_list("status", "attempts", "queued_at")) == {(MessageStatus.PENDING, 0, None)}
    with time_machine.travel(NOW + dt.timedelta(seconds=1), tick=False):
        assert outbox.hand_out(NOW + dt.timedelta(seconds=1), limit=5) == ids[1:]


@pytest.mark.parametrize("backend", ["mailfiles", "filebased", "locmem", "console", "dummy"])
def test_a_batch_is_delivered_by_every_email_backend_django_ships(burst, settings, tmp_path, backend, capsys):
    """`make run` writes files; the batch path once assumed every backend had an SMTP connection.

    "mailfiles" is the app's own file backend (the `make run` default): one file per email.
    Django's stock one may append two emails to one file (it names files by second and id()).
    """
    settings.EMAIL_BACKEND = (
        "plans.outbox.mailfiles.EmailBackend"
        if backend == "mailfiles"
        else f"django.core.mail.backends.{backend}.EmailBackend"
    )
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    with time_machine.travel(NOW, tick=False):
        ids = outbox.hand_out(NOW, limit=5)
        assert outbox.deliver_many(ids) == dict.fromkeys(ids, "sent")
    assert Message.objects.filter(pk__in=ids, status=MessageStatus.SENT).count() == len(ids)
    if backend in ("mailfiles", "filebased"):
        files = sorted((tmp_path / "mail").iterdir())
        written = "".join(f.read_text() for f in files)
        assert written.count("Subject: Booking confirmed at") == len(ids)
        if backend == "mailfiles":
            assert len(files) == len(ids)  # one file per email, even under a frozen clock
            parsed = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
            assert all(m["Subject"].startswith("Booking confirmed at") for m in parsed)
    elif backend == "locmem":
        from django.core import mail

        assert [m.subject.startswith("Booking confirmed") for m in mail.outbox] == [True] * len(ids)
    elif backend == "console":
        assert capsys.readouterr().out.count("Subject: Booking confirmed at") == len(ids)


def test_a_row_held_by_a_killed_worker_is_handed_out_again_once_a_task_time_limit_has_passed(burst, settings):
    """Ten minutes of silence after a SIGKILL was the old default; the lease is the task time limit."""
    with time_machine.travel(NOW, tick=False):
        first, *_ = outbox.hand_out(NOW, limit=5)
    soon = NOW + dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 1)
    with time_machine.travel(soon, tick=False):
        assert first in outbox.hand_out(soon, limit=5)
