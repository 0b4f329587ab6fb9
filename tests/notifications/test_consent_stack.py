"""The consent request as a client meets it: web, worker and beat as real processes; staff book the
first session of a client with no signed consent over HTTP; the email arrives (a file on the embedded
defaults, SMTP on PostgreSQL + Redis); the client opens its link, signs, and the link then refuses."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

from plans.consent_defaults import load_default_consents
from plans.models import ConsentKind, SignedConsent
from plans.services import consent as consent_services
from tests.helpers.consent import data_url, signature_png
from tests.helpers.outbox import text_body
from tests.notifications.stack import (
    STAFF_PASSWORD,
    Browser,
    Stack,
    clinic_with_a_plan,
    mail_files,
    start_on_embedded_defaults,
    wait_for,
)

pytestmark = [pytest.mark.worker, pytest.mark.timeout(120), pytest.mark.django_db(transaction=True)]

ON_POSTGRES_AND_REDIS = settings.DATABASES["default"]["ENGINE"].endswith("postgresql") and (
    settings.CELERY_BROKER_URL.startswith("redis://")
)


def _unsigned_plan(staff):
    load_default_consents()  # transactional tests flush the migration's forms
    plan, starts = clinic_with_a_plan(staff)
    plan.client.consents.all().delete()  # a client who has not signed yet
    return plan, starts


def _book(s: Stack, staff, plan, starts) -> None:
    browser = Browser(s.url)
    browser.log_in(staff.username, STAFF_PASSWORD)
    status, answer = browser.post_json(
        f"/sessions/{plan.sessions.get().pk}/book/",
        {"starts_at": f"{starts:%Y-%m-%dT%H:%M}", "practitioner": staff.practitioner.pk},
    )
    assert status == 200, answer


def _sign_from(s: Stack, body: str, plan) -> None:
    path = re.search(r"https?://[^/\s]+(/e/consent/\S+/)", body)[1]
    client = Browser(s.url)
    status, page = client.request(path)
    assert status == 200 and "Cold-sore reactivation" in page
    version = consent_services.current_version(ConsentKind.TREATMENT)
    form = {"version_id": version.pk, "signature": data_url(signature_png()), "has_read": "on"}
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    status, page = client.request(path, {**form, "csrfmiddlewaretoken": token})
    assert status == 200 and "Thank you" in page, page[:1000]
    signed = SignedConsent.objects.get(client=plan.client)
    assert signed.via == "remote" and signed.witness is None
    status, page = client.request(path, {**form, "csrfmiddlewaretoken": token})
    assert status == 409 and settings.CLINIC_PHONE in page


def _consent_email(messages):
    return [m for m in messages if "consent" in m["Subject"].lower()]


def test_on_the_embedded_defaults_the_consent_email_file_arrives_and_its_link_signs_once(stack, staff):
    plan, starts = _unsigned_plan(staff)
    s, procs = start_on_embedded_defaults(stack)
    _book(s, staff, plan, starts)
    (message,) = wait_for(lambda: _consent_email(mail_files(s)), timeout=45, what="the consent email", procs=procs)
    assert message["To"] == plan.client.email
    _sign_from(s, text_body(message), plan)


@pytest.mark.skipif(
    not ON_POSTGRES_AND_REDIS, reason="needs DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://..."
)
def test_on_postgres_and_redis_the_consent_email_reaches_smtp_and_its_link_signs_once(stack, staff, smtp_server):
    from clinic.celery import app

    app.control.purge()
    plan, starts = _unsigned_plan(staff)
    s = stack(broker_url=settings.CELERY_BROKER_URL, email_url=f"smtp://127.0.0.1:{smtp_server.port}")
    procs = [s.start_web(server="gunicorn"), s.start_worker(), s.start_beat()]
    _book(s, staff, plan, starts)
    (message,) = wait_for(
        lambda: _consent_email(smtp_server.received), timeout=45, what="the consent email over SMTP", procs=procs
    )
    _sign_from(s, text_body(message), plan)
    app.control.purge()
