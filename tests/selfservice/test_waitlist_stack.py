"""The waitlist as a client meets it: web, worker and beat as real processes; staff cancel an
appointment over HTTP; the worker emails the freed slot to a waitlisted client (a file on the
embedded defaults, SMTP on PostgreSQL + Redis); the client opens the link read from that email
and takes the slot."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.conf import settings

from plans.models import PlanSession, WaitlistEntry, WaitlistStatus
from plans.services import booking, selfservice, waitlist
from tests.helpers.clock import LONDON
from tests.helpers.outbox import text_body
from tests.helpers.plans import plan_to_book
from tests.notifications.conftest import (  # noqa: F401 - shared fixtures
    smtp_server,
    stack,
    staff,
)
from tests.notifications.stack import (
    STAFF_PASSWORD,
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


def _scene(s: Stack, user) -> tuple[PlanSession, PlanSession]:
    """A client booked (over HTTP) nine days ahead who asked for earlier, and a rival three days earlier."""
    plan, starts = clinic_with_a_plan(user)
    _book(s, user, plan, starts)
    waiting = plan.sessions.get()
    access = selfservice.client_access_issue(client=plan.client)
    waitlist.waitlist_join(access=access, session_id=waiting.pk)
    rival_day = starts.date() - dt.timedelta(days=3)
    rival = plan_to_book(first_target=rival_day, count=1, user=user).sessions.get()
    booking.session_book(
        session=rival,
        starts_at=dt.datetime.combine(rival_day, dt.time(10), tzinfo=LONDON),
        practitioner=user.practitioner,
    )
    return waiting, PlanSession.objects.get(pk=rival.pk)


def _cancel(s: Stack, user, rival: PlanSession) -> None:
    browser = Browser(s.url)
    browser.log_in(user.username, STAFF_PASSWORD)
    status, answer = browser.post_json(f"/sessions/{rival.pk}/cancel/", {"reason": "Client is ill", "by_client": "1"})
    assert status == 200, answer


def _offer_for(messages, waiting: PlanSession):
    to = waiting.plan.client.email
    return [m for m in messages if "earlier appointment" in m["Subject"].lower() and m["To"] == to]


def _take_from(s: Stack, body: str, waiting: PlanSession, rival: PlanSession) -> None:
    path = re.search(r"Take this slot: https?://[^/\s]+(/e/offer/\S+/)", body)[1]
    client = Browser(s.url)
    status, page = client.request(path)
    assert status == 200 and "Take this slot" in page, page[:1500]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    status, page = client.request(path, {"csrfmiddlewaretoken": token})
    assert status == 200 and "The earlier time is yours" in page, page[:1500]
    moved = PlanSession.objects.get(pk=waiting.pk)
    assert moved.starts_at == rival.starts_at and moved.version == waiting.version + 1
    assert WaitlistEntry.objects.get(session=waiting).status == WaitlistStatus.BOOKED


def test_on_the_embedded_defaults_a_cancellation_emails_the_slot_and_the_link_takes_it(stack, staff):  # noqa: F811
    s, procs = start_on_embedded_defaults(stack)
    waiting, rival = _scene(s, staff)
    _cancel(s, staff, rival)
    (message,) = wait_for(
        lambda: _offer_for(mail_files(s), waiting), timeout=45, what="the waitlist offer", procs=procs
    )
    _take_from(s, text_body(message), waiting, rival)


@pytest.mark.skipif(
    not ON_POSTGRES_AND_REDIS, reason="needs DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://..."
)
def test_on_postgres_and_redis_a_cancellation_emails_the_slot_and_the_link_takes_it(stack, staff, smtp_server):  # noqa: F811
    from clinic.celery import app

    app.control.purge()
    s = stack(broker_url=settings.CELERY_BROKER_URL, email_url=f"smtp://127.0.0.1:{smtp_server.port}")
    procs = [s.start_web(server="gunicorn"), s.start_worker(), s.start_beat()]
    waiting, rival = _scene(s, staff)
    _cancel(s, staff, rival)
    (message,) = wait_for(
        lambda: _offer_for(smtp_server.received, waiting), timeout=45, what="the waitlist offer", procs=procs
    )
    _take_from(s, text_body(message), waiting, rival)
    app.control.purge()
