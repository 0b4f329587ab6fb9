"""The product as a person meets it: web, worker and beat as real processes, a plan booked over
HTTP by a staff member, and the email that arrives.

Embedded defaults (what `make run` starts): SQLite file, filesystem broker and file email
backend in a temporary CLINIC_VAR_DIR. Production shape: PostgreSQL + Redis + SMTP to
aiosmtpd on loopback (CI's second run; skipped unless DATABASE_URL and CELERY_BROKER_URL say so).
"""

from __future__ import annotations

import email
import email.policy
import re
import threading

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from icalendar import Calendar

from plans.models import Message, MessageStatus, PreSessionCheck
from plans.recheck import CHECK_CODES
from tests.helpers.clock import as_client_reads
from tests.helpers.outbox import attachment, text_body
from tests.notifications.stack import (
    STAFF_PASSWORD,
    Browser,
    Stack,
    clinic_with_a_plan,
    start_on_embedded_defaults,
    wait_for,
)

pytestmark = [pytest.mark.worker, pytest.mark.timeout(120), pytest.mark.django_db(transaction=True)]

ON_POSTGRES_AND_REDIS = settings.DATABASES["default"]["ENGINE"].endswith("postgresql") and (
    settings.CELERY_BROKER_URL.startswith("redis://")
)
on_postgres_and_redis = pytest.mark.skipif(
    not ON_POSTGRES_AND_REDIS, reason="needs DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://..."
)


@pytest.fixture
def broker():
    """The suite's Redis database, emptied before and after."""
    from clinic.celery import app

    app.control.purge()
    yield settings.CELERY_BROKER_URL
    app.control.purge()


def book_over_http(stack: Stack, staff, plan, starts) -> Browser:
    browser = Browser(stack.url)
    browser.log_in(staff.username, STAFF_PASSWORD)
    session = plan.sessions.get()
    status, answer = browser.post_json(
        f"/sessions/{session.pk}/book/",
        {"starts_at": f"{starts:%Y-%m-%dT%H:%M}", "practitioner": staff.practitioner.pk},
    )
    assert status == 200, answer
    return browser


def mail_files(stack: Stack) -> list:
    """One email per file (plans.outbox.mailfiles); the split also reads Django's stock file backend,
    which appends a line of 79 dashes after each message."""
    if not stack.mail_dir.is_dir():
        return []
    messages = []
    for path in sorted(stack.mail_dir.glob("*.eml")) + sorted(stack.mail_dir.glob("*.log")):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk, policy=email.policy.default))
    return messages


def assert_confirmation_for(message, plan, starts, stack: Stack) -> None:
    when = as_client_reads(starts, timezone.now())
    assert when.endswith(" at 10:00")
    assert message["Subject"] == f"Booking confirmed at Demo Skin Clinic: {when}"
    assert message["To"] == plan.client.email
    body = text_body(message)
    assert when in body
    assert f"{stack.url}/e/cancel/" in body  # links point at the server that is running
    # The worker process inlined the layout's CSS: the buttons carry the brand colour themselves.
    html = message.get_body(preferencelist=("html",)).get_content()
    assert re.search(r'<a class="button[^"]*"[^>]*style="[^"]*#0f766e', html) or re.search(
        r'<a[^>]*style="[^"]*#0f766e[^"]*"[^>]*class="button', html
    ), html
    assert "openstreetmap.org/search?query=1+High+Street%2C+London" in html
    (event,) = Calendar.from_ical(attachment(message)).walk("VEVENT")
    assert event["DTSTART"].params["TZID"] == "Europe/London"
    assert event.decoded("DTSTART") == starts


def test_make_run_stack_books_over_http_and_the_email_file_arrives(stack, staff, tmp_path):
    """SQLite file, filesystem broker, file email backend: nothing but this machine."""
    plan, starts = clinic_with_a_plan(staff)
    s, procs = start_on_embedded_defaults(stack)

    book_over_http(s, staff, plan, starts)

    (confirmation,) = wait_for(lambda: mail_files(s), timeout=45, what="the confirmation file", procs=procs)
    assert_confirmation_for(confirmation, plan, starts, s)
    row = Message.objects.get(kind="confirmation")
    wait_for(lambda: Message.objects.get(pk=row.pk).status == MessageStatus.SENT, timeout=10, what="row sent")
    assert "AttributeError" not in (tmp_path / "worker.log").read_text()


@on_postgres_and_redis
def test_production_stack_books_over_http_and_the_email_reaches_smtp(stack, staff, smtp_server, broker):
    plan, starts = clinic_with_a_plan(staff)
    s = stack(broker_url=broker, email_url=f"smtp://127.0.0.1:{smtp_server.port}")
    procs = [s.start_web(server="gunicorn"), s.start_worker(), s.start_beat()]

    book_over_http(s, staff, plan, starts)

    wait_for(lambda: smtp_server.received, timeout=45, what="the confirmation over SMTP", procs=procs)
    (confirmation,) = smtp_server.received
    assert confirmation["X-Envelope-To"] == plan.client.email
    assert_confirmation_for(confirmation, plan, starts, s)


def waiting_on_a_lock() -> bool:
    """Some other connection to this database waits for a row lock (the cancel, held by the send)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] > 0


@on_postgres_and_redis
def test_a_cancel_during_an_in_flight_reminder_waits_for_it_and_the_record_matches_what_smtp_received(
    stack, staff, smtp_server, broker
):
    """The reminder being sent when staff cancel is recorded as sent (it was), and the
    cancellation notice follows it; nothing the server received is recorded as anything else."""
    plan, starts = clinic_with_a_plan(staff, reminder_leads=[{"hours_before": 48, "include_pre_care": False}])
    session = plan.sessions.get()
    s = stack(broker_url=broker, email_url=f"smtp://127.0.0.1:{smtp_server.port}")
    procs = [s.start_web(server="gunicorn"), s.start_worker(), s.start_beat()]
    browser = book_over_http(s, staff, plan, starts)
    wait_for(lambda: smtp_server.received, timeout=45, what="the confirmation", procs=procs)

    # The reminder falls due now (the clock is real, so its moment is brought forward), and
    # the SMTP server holds it in DATA: the send is in flight when the cancel arrives.
    smtp_server.data_started.clear()
    smtp_server.hold = True
    Message.objects.filter(session=session, kind="reminder:48h").update(send_at=timezone.now())
    assert smtp_server.data_started.wait(45), "the reminder never reached DATA"

    answers = []
    cancel = threading.Thread(
        target=lambda: answers.append(
            browser.post_json(f"/sessions/{session.pk}/cancel/", {"by_client": "1", "reason": "Client is ill"})
        )
    )
    cancel.start()
    wait_for(lambda: answers or waiting_on_a_lock(), timeout=30, what="the cancel to answer or wait", procs=procs)
    assert answers == [], "the cancel answered while its session's reminder was still being sent"
    smtp_server.hold = False
    cancel.join(30)
    assert answers and answers[0][0] == 200, answers

    wait_for(lambda: len(smtp_server.received) >= 3, timeout=45, what="the cancellation notice", procs=procs)
    subjects = [m["Subject"].split(":")[0] for m in smtp_server.received]
    assert subjects == ["Booking confirmed at Demo Skin Clinic", "Reminder", "Cancelled"]
    received_ids = {m["Message-ID"] for m in smtp_server.received}
    wait_for(
        lambda: (
            set(Message.objects.filter(status=MessageStatus.SENT).values_list("message_id", flat=True)) == received_ids
        ),
        timeout=15,
        what="the outbox to record exactly what the server received",
    )
    reminder = Message.objects.get(kind="reminder:48h")
    assert reminder.status == MessageStatus.SENT
    assert [a.succeeded for a in reminder.delivery_attempts.all()] == [True]
    assert not Message.objects.filter(delivery_attempts__succeeded=True).exclude(status=MessageStatus.SENT).exists()


# --- The pre-session check link: from the 48 h reminder to a recorded check -------------------------

CHECK_LINK = re.compile(r"(https?://[^\s\"<>]+/e/check/[^\s\"<>]+/)")


def bring_the_reminder_forward(plan) -> None:
    """The 48 h reminder falls due now (the clock is real: its moment is nine days away)."""
    Message.objects.filter(session__plan=plan, kind="reminder:48h").update(send_at=timezone.now())


def answer_the_check(url: str, **yes: str) -> tuple[int, str]:
    """The client opens the link (no login) and answers every question, "no" unless named in `yes`."""
    client = Browser(url.split("/e/check/")[0])
    path = "/e/check/" + url.split("/e/check/")[1]
    status, page = client.request(path)
    assert status == 200 and 'name="csrfmiddlewaretoken"' in page, page[:1000]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    form = {"csrfmiddlewaretoken": token}
    for code in CHECK_CODES:
        form[code] = "yes" if code in yes else "no"
        form[f"{code}_detail"] = yes.get(code, "")
    return client.request(path, form)


def check_journey(plan, url: str) -> None:
    status, page = answer_the_check(url, anything_else="New retinol serum since Monday")
    assert status == 200 and "We have your answers" in page, page[:1000]
    check = PreSessionCheck.objects.get(session__plan=plan)
    assert check.via == PreSessionCheck.Via.CLIENT and check.yes_codes == ["anything_else"]
    plan.refresh_from_db()
    assert plan.is_on_hold, "a yes no rule answers needs a clinician"
    assert any("New retinol serum" in line for line in plan.holds.get().reasons)
    status, page = Browser(url.split("/e/check/")[0]).request("/e/check/" + url.split("/e/check/")[1])
    # The session is 9 days away (clinic_with_a_plan) and a check counts for
    # PRE_SESSION_CHECK_VALID_DAYS (7): answers given this early would not count on the day,
    # so the link offers the check again instead of "already recorded".
    assert status == 200 and 'name="recent_tan"' in page and "already recorded" not in page, page[:1000]
    assert PreSessionCheck.objects.count() == 1


def test_make_run_stack_delivers_the_check_link_and_the_clients_answers_are_recorded(stack, staff, tmp_path):
    """The 48 h reminder lands in the mail folder, its link opens the check, the client's "yes"
    is recorded and holds the plan: SQLite file, filesystem broker, file email backend."""
    plan, starts = clinic_with_a_plan(staff, reminder_leads=[{"hours_before": 48, "include_pre_care": False}])
    s, procs = start_on_embedded_defaults(stack)
    book_over_http(s, staff, plan, starts)
    wait_for(lambda: mail_files(s), timeout=45, what="the confirmation file", procs=procs)

    bring_the_reminder_forward(plan)
    reminders = wait_for(
        lambda: [m for m in mail_files(s) if m["Subject"].startswith("Reminder")],
        timeout=45,
        what="the reminder file",
        procs=procs,
    )

    (url,) = set(CHECK_LINK.findall(text_body(reminders[0])))
    assert url.startswith(s.url)
    check_journey(plan, url)


@on_postgres_and_redis
def test_production_stack_delivers_the_check_link_over_smtp_and_the_answers_are_recorded(
    stack, staff, smtp_server, broker
):
    plan, starts = clinic_with_a_plan(staff, reminder_leads=[{"hours_before": 48, "include_pre_care": False}])
    s = stack(broker_url=broker, email_url=f"smtp://127.0.0.1:{smtp_server.port}")
    procs = [s.start_web(server="gunicorn"), s.start_worker(), s.start_beat()]
    book_over_http(s, staff, plan, starts)
    wait_for(lambda: smtp_server.received, timeout=45, what="the confirmation", procs=procs)

    bring_the_reminder_forward(plan)
    reminders = wait_for(
        lambda: [m for m in smtp_server.received if m["Subject"].startswith("Reminder")],
        timeout=45,
        what="the reminder over SMTP",
        procs=procs,
    )

    (url,) = set(CHECK_LINK.findall(text_body(reminders[0])))
    check_journey(plan, url)
