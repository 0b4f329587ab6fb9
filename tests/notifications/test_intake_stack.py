"""The new-client intake as the person meets it: web, worker and beat as real processes; front desk
invites a caller over HTTP; the email arrives (a file on the embedded defaults, SMTP on PostgreSQL +
Redis); the person opens its link and fills in the forms once; a clinician creates the client."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.db import connection

from plans.models import Client, IntakeInvitation
from tests.helpers.outbox import text_body
from tests.notifications.stack import STAFF_PASSWORD, Browser, Stack, mail_files, wait_for, with_password
from tests.plans.factories import NO_TO_ALL, clinic_protocol

pytestmark = [pytest.mark.worker, pytest.mark.timeout(120), pytest.mark.django_db(transaction=True)]

ON_POSTGRES_AND_REDIS = settings.DATABASES["default"]["ENGINE"].endswith("postgresql") and (
    settings.CELERY_BROKER_URL.startswith("redis://")
)


@pytest.fixture
def desk(front_desk, settings):
    clinic_protocol()  # the screening catalogue the form asks (transactional tests flush the migration's)
    return with_password(front_desk, settings)


def _invite(s: Stack, desk) -> None:
    browser = Browser(s.url)
    browser.log_in(desk.username, STAFF_PASSWORD)
    status, page = browser.request("/intake/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    form = {"first_name": "Nina", "last_name": "Hart", "email": "nina.hart@example.com", "phone": "0207 946 0000"}
    status, page = browser.request("/intake/invite/", {**form, "csrfmiddlewaretoken": token})
    assert status == 200 and "Nina Hart" in page, page[:1000]


def _intake_email(messages):
    return [m for m in messages if "first consultation" in m["Subject"]]


def _fill_in_from(s: Stack, body: str) -> None:
    path = re.search(r"https?://[^/\s]+(/e/intake/\S+/)", body)[1]
    person = Browser(s.url)
    status, page = person.request(path)
    assert status == 200 and "Hello Nina" in page and "Taken isotretinoin?" in page
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    form = {
        "csrfmiddlewaretoken": token,
        "date_of_birth": "1990-05-01",
        "phone": "+44 7700 900222",
        "email_consent": "on",
        "oiliness": "oily",
        "pore_concern": "moderate",
        **{f"screen_{code}": "no" for code in NO_TO_ALL},
        "screen_pregnant_nursing": "yes",
    }
    status, page = person.request(path, form)
    assert status == 200 and "we will call you" in page, page[:1000]
    status, page = person.request(path, form)
    assert status == 409 and "already received" in page
    invitation = IntakeInvitation.objects.get()
    assert invitation.needs_call and invitation.answers["phone"] == "+44 7700 900222"


def _review(s: Stack, staff) -> None:
    browser = Browser(s.url)
    browser.log_in(staff.username, STAFF_PASSWORD)
    path = f"/intake/{IntakeInvitation.objects.get().pk}/"
    status, page = browser.request(path)
    assert status == 200 and "Completed by the client" in page
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    status, page = browser.request(path, {"fitzpatrick": "2", "notes": "", "csrfmiddlewaretoken": token})
    assert status == 200 and "was added with the screening they gave" in page, page[:1000]
    client = Client.objects.get()
    assert client.email == "nina.hart@example.com"
    assert client.screenings.get().answers.get(question__code="pregnant_nursing").answer is True


def test_on_the_embedded_defaults_the_intake_email_file_arrives_and_the_forms_are_filled_once(stack, desk, staff):
    if connection.vendor != "sqlite":
        pytest.skip("the embedded-defaults journey runs on the SQLite test database")
    s = stack(broker_url="filesystem://")
    procs = [s.start_web(), s.start_worker(), s.start_beat()]
    _invite(s, desk)
    (message,) = wait_for(lambda: _intake_email(mail_files(s)), timeout=45, what="the intake email", procs=procs)
    assert message["To"] == "nina.hart@example.com"
    _fill_in_from(s, text_body(message))
    _review(s, staff)


@pytest.mark.skipif(
    not ON_POSTGRES_AND_REDIS, reason="needs DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://..."
)
def test_on_postgres_and_redis_the_intake_email_reaches_smtp_and_the_forms_are_filled_once(
    stack, desk, staff, smtp_server
):
    from clinic.celery import app

    app.control.purge()
    s = stack(broker_url=settings.CELERY_BROKER_URL, email_url=f"smtp://127.0.0.1:{smtp_server.port}")
    procs = [s.start_web(server="gunicorn"), s.start_worker(), s.start_beat()]
    _invite(s, desk)
    (message,) = wait_for(
        lambda: _intake_email(smtp_server.received), timeout=45, what="the intake email over SMTP", procs=procs
    )
    _fill_in_from(s, text_body(message))
    _review(s, staff)
    app.control.purge()
