"""The client's page as a client meets it: web, worker and beat as real processes; staff book over
HTTP; the confirmation arrives (a file on the embedded defaults, SMTP on PostgreSQL + Redis); the
client opens the page link read from that email, moves the appointment, and the update email
announces the new time."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

from plans.models import PlanSession
from tests.helpers.outbox import text_body
from tests.notifications.conftest import (  # noqa: F401 - shared fixtures
    smtp_server,
    stack,
    staff,
)
from tests.notifications.stack import (
    Browser,
    Stack,
    clinic_with_a_plan,
    mail_files,
    start_on_embedded_defaults,
    wait_for,
)
from tests.notifications.test_consent_stack import _book

pytestmark = [pytest.mark.worker, pytest.mark.timeout(150), pytest.mark.django_db(transaction=True)]

ON_POSTGRES_AND_REDIS = settings.DATABASES["default"]["ENGINE"].endswith("postgresql") and (
    settings.CELERY_BROKER_URL.startswith("redis://")
)


def _with_subject(messages, words: str):
    return [m for m in messages if words in m["Subject"].lower()]


def _move_from(s: Stack, body: str, plan) -> None:
    path = re.search(r"Manage your appointments: https?://[^/\s]+(/e/page/\S+/)", body)[1]
    client = Browser(s.url)
    status, page = client.request(path)
    assert status == 200 and "Your appointments" in page, page[:800]
    session = plan.sessions.get()
    status, page = client.request(f"{path}{session.pk}/move/")
    assert status == 200
    slot = re.search(r'name="slot" id="slot-1" value="([^"]+)"', page)[1]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    status, page = client.request(
        f"{path}{session.pk}/move/", {"slot": slot, "version": session.version, "csrfmiddlewaretoken": token}
    )
    assert status == 200 and "Your appointment is moved" in page, page[:1500]
    session.refresh_from_db()
    assert session.client_reschedules == 1 and session.version == 1


def test_on_the_embedded_defaults_the_page_link_from_a_mail_file_moves_the_appointment(stack, staff):  # noqa: F811
    plan, starts = clinic_with_a_plan(staff)
    s, procs = start_on_embedded_defaults(stack)
    _book(s, staff, plan, starts)
    (message,) = wait_for(
        lambda: _with_subject(mail_files(s), "confirm"), timeout=45, what="the confirmation", procs=procs
    )
    _move_from(s, text_body(message), plan)
    wait_for(lambda: _with_subject(mail_files(s), "moved"), timeout=45, what="the update email", procs=procs)
    assert PlanSession.objects.get(pk=plan.sessions.get().pk).moved_by_client_at is not None


@pytest.mark.skipif(
    not ON_POSTGRES_AND_REDIS, reason="needs DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://..."
)
def test_on_postgres_and_redis_the_page_link_from_a_delivered_email_moves_the_appointment(stack, staff, smtp_server):  # noqa: F811
    from clinic.celery import app

    app.control.purge()
    plan, starts = clinic_with_a_plan(staff)
    s = stack(broker_url=settings.CELERY_BROKER_URL, email_url=f"smtp://127.0.0.1:{smtp_server.port}")
    procs = [s.start_web(server="gunicorn"), s.start_worker(), s.start_beat()]
    _book(s, staff, plan, starts)
    (message,) = wait_for(
        lambda: _with_subject(smtp_server.received, "confirm"), timeout=45, what="the confirmation", procs=procs
    )
    _move_from(s, text_body(message), plan)
    wait_for(lambda: _with_subject(smtp_server.received, "moved"), timeout=45, what="the update email", procs=procs)
    app.control.purge()
