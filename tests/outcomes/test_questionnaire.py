"""The client's outcome questionnaire: written with the booking of session 1 (baseline) and with the
follow-up invitation (assessment), each with its response row in the same transaction, only for a
client who can be emailed; filled once from a signed link without login; skipped once answered or
when the plan is cancelled; read by clinical staff on the plan page, never by front desk."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from plans import outbox
from plans.models import (
    Message,
    MessageKind,
    MessageStatus,
    OutcomeQuestion,
    PlanStatus,
    QuestionnaireAnswer,
    QuestionnaireResponse,
    ScoreMoment,
    SessionKind,
)
from plans.outbox import kinds
from plans.outbox.links import questionnaire_token, questionnaire_url
from plans.outbox.render import build_email
from plans.services import outcomes
from plans.services.outcomes import load_default_outcome_items
from tests.factories import ClientFactory
from tests.helpers.outbox import book, complete, reschedule, text_body
from tests.helpers.plans import booked_plan
from tests.notifications.conftest import (  # noqa: F401 - shared fixtures
    smtp_server,
    stack,
    staff,
)

pytestmark = pytest.mark.django_db

BASELINE = MessageKind.questionnaire(ScoreMoment.BASELINE)
ASSESSMENT = MessageKind.questionnaire(ScoreMoment.ASSESSMENT)
ANSWERS = {"satisfaction": "4", "pore-visibility": "4"}  # the baseline asks no "would you recommend"


@pytest.fixture(autouse=True)
def _questions(db):
    load_default_outcome_items()


def _starts(n: int = 1) -> list[dt.datetime]:
    first = timezone.now().replace(microsecond=0) + dt.timedelta(days=10)
    return [first + dt.timedelta(days=28 * i) for i in range(n)]


def _booked(client=None, n: int = 1, **kwargs):
    plan = booked_plan(client=client or ClientFactory(), starts=_starts(n), **kwargs)
    book(plan)
    return plan


def _path(response: QuestionnaireResponse) -> str:
    return questionnaire_url(response).removeprefix(settings.CLINIC_BASE_URL)


# --- Written by the outbox ------------------------------------------------------------------------------


def test_booking_session_1_writes_the_baseline_questionnaire_with_its_response_row():
    plan = _booked()
    message = Message.objects.get(kind=BASELINE)
    response = QuestionnaireResponse.objects.get(plan=plan)
    assert message.session == plan.sessions.get(sequence=1) and response.moment == ScoreMoment.BASELINE
    # Due three days before session 1 at the care-note hour: close to the first treatment, answered at home.
    local = timezone.localtime(message.send_at, timezone.get_default_timezone())
    first_day = timezone.localtime(message.session.starts_at, timezone.get_default_timezone()).date()
    assert message.status == MessageStatus.PENDING and local.date() == first_day - dt.timedelta(days=3)
    assert local.hour == settings.NOTIFICATIONS_CARE_NOTE_HOUR
    assert kinds.label(message) == "Questionnaire (baseline (session 1))"
    email = build_email(message, now=timezone.now(), message_id="<q@test>")
    body = email.body
    assert _path(response) in body and "before your first microneedling session" in body.lower()
    assert "confirm" not in email.subject.lower()  # the stack tests tell the confirmation by its subject
    book(plan)  # booked again (a second hook call): still one message and one row
    assert Message.objects.filter(kind=BASELINE).count() == 1 and QuestionnaireResponse.objects.count() == 1


def test_moving_session_1_moves_its_questionnaire_and_one_booked_days_ahead_sends_it_at_once():
    plan = _booked()
    session = plan.sessions.get(sequence=1)
    before = Message.objects.get(kind=BASELINE).send_at
    moved = reschedule(session, session.starts_at + dt.timedelta(days=14))
    message = Message.objects.get(kind=BASELINE)
    local = timezone.localtime(message.send_at, timezone.get_default_timezone())
    assert local.date() == timezone.localtime(moved.starts_at).date() - dt.timedelta(days=3)
    assert message.send_at - before == dt.timedelta(days=14) and message.session_version == moved.version
    soon = booked_plan(client=ClientFactory(), starts=[timezone.now() + dt.timedelta(days=1)])
    book(soon)
    assert Message.objects.get(kind=BASELINE, session__plan=soon).send_at <= timezone.now()


def test_session_1_cancelled_then_booked_again_sends_the_baseline_questionnaire_for_the_new_time():
    plan = _booked()
    session = plan.sessions.get(sequence=1)
    with transaction.atomic():  # what booking.session_cancel does, then session_book
        session.cancel(by_client=True, reason="Ill", now=timezone.now())
        session.save()
        outbox.on_session_cancelled(session)
    assert Message.objects.get(kind=BASELINE).status == MessageStatus.CANCELLED
    later = session.starts_at + dt.timedelta(hours=2)  # the same day: its window is that one day
    with transaction.atomic():
        session.book(starts_at=later, practitioner=session.practitioner, room=session.room, now=timezone.now())
        session.save()
        outbox.on_sessions_booked([session])
    message = Message.objects.get(kind=BASELINE)
    local = timezone.localtime(message.send_at, timezone.get_default_timezone())
    assert message.status == MessageStatus.PENDING and message.session_version == session.version
    assert local.date() == timezone.localtime(later).date() - dt.timedelta(days=3)
    assert QuestionnaireResponse.objects.filter(plan=plan).count() == 1
    # So are its reminders and a confirmation of the new time.
    assert Message.objects.get(kind=MessageKind.CONFIRMATION).status == MessageStatus.PENDING
    reminders = Message.objects.filter(kind__startswith=MessageKind.REMINDER_PREFIX)
    assert reminders and all(m.status == MessageStatus.PENDING for m in reminders)


@pytest.mark.parametrize("client_fields", [{"email": ""}, {"email_consent": False}])
def test_a_client_who_cannot_be_emailed_gets_no_questionnaire(client_fields):
    _booked(ClientFactory(**client_fields))
    assert not Message.objects.filter(kind__startswith=MessageKind.QUESTIONNAIRE).exists()
    assert not QuestionnaireResponse.objects.exists()


def test_a_booking_rolled_back_leaves_neither_message_nor_response():
    plan = booked_plan(client=ClientFactory(), starts=_starts())
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.on_sessions_booked(list(plan.sessions.all()))
        raise RuntimeError("the booking failed after the hook")
    assert not Message.objects.exists() and not QuestionnaireResponse.objects.exists()


def test_the_assessment_questionnaire_is_written_with_the_follow_up_invitation_for_a_week_before_it():
    plan = _booked(n=3, follow_up=True)  # the outbox snapshot's series has three sessions
    *earlier, last = plan.sessions.filter(kind=SessionKind.MICRONEEDLING).order_by("sequence")
    for session in earlier:
        complete(session, session.starts_at + dt.timedelta(hours=1))
    assert not Message.objects.filter(kind=ASSESSMENT).exists()
    complete(last, last.starts_at + dt.timedelta(hours=1))
    invite = Message.objects.get(kind=MessageKind.FOLLOW_UP_INVITE)
    message = Message.objects.get(kind=ASSESSMENT)
    assert message.session_id == invite.session_id == last.pk
    follow_up = plan.sessions.get(kind=SessionKind.FOLLOW_UP)
    local = timezone.localtime(message.send_at, timezone.get_default_timezone())
    assert local.date() == follow_up.target - dt.timedelta(days=7)
    assert local.hour == settings.NOTIFICATIONS_CARE_NOTE_HOUR
    response = QuestionnaireResponse.objects.get(plan=plan, moment=ScoreMoment.ASSESSMENT)
    body = build_email(message, now=message.send_at, message_id="<a@test>").body
    assert _path(response) in body and "course of microneedling is finished" in body


def test_the_questionnaire_email_is_skipped_once_answered_or_when_the_plan_is_cancelled():
    plan = _booked()
    message = Message.objects.get(kind=BASELINE)
    now = message.send_at
    assert kinds.why_not_standing(message, now) is None
    response = QuestionnaireResponse.objects.get(plan=plan)
    outcomes.questionnaire_submit(response=response, answers={"satisfaction": 5, "pore-visibility": 3}, now=now)
    assert kinds.why_not_standing(message, now) == (
        MessageStatus.CANCELLED,
        "The client has already answered the questionnaire.",
    )
    other = _booked()
    other_message = Message.objects.get(kind=BASELINE, session__plan=other)
    other.status = PlanStatus.CANCELLED
    other.save()
    assert kinds.why_not_standing(other_message, now) == (MessageStatus.CANCELLED, "The plan was cancelled.")


# --- The service ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answers, problem",
    [
        ({"satisfaction": 11, "pore-visibility": 3}, "satisfaction"),
        ({"satisfaction": 5, "pore-visibility": 0}, "pore-visibility"),
        ({"satisfaction": 5}, "pore-visibility"),
        ({"satisfaction": "lots", "pore-visibility": 3}, "satisfaction"),
        ({"satisfaction": 5, "pore-visibility": 3, "recommend": 1}, "not questions of this questionnaire"),
        ({"satisfaction": 5, "pore-visibility": 3, "mood": 1}, "not questions of this questionnaire"),
    ],
)
def test_answers_off_their_scale_are_refused_and_nothing_is_stored(answers, problem):
    response = QuestionnaireResponse.objects.get(plan=_booked())
    with pytest.raises(ValidationError, match=problem):
        outcomes.questionnaire_submit(response=response, answers=answers, now=timezone.now())
    response.refresh_from_db()
    assert response.submitted_at is None and not QuestionnaireAnswer.objects.exists()


def test_a_second_submission_is_refused_and_the_first_answers_stand():
    response = QuestionnaireResponse.objects.get(plan=_booked())
    outcomes.questionnaire_submit(
        response=response, answers={"satisfaction": 6, "pore-visibility": 2}, now=timezone.now()
    )
    with pytest.raises(outcomes.QuestionnaireAlreadySubmitted):
        outcomes.questionnaire_submit(
            response=response, answers={"satisfaction": 1, "pore-visibility": 5}, now=timezone.now()
        )
    assert sorted(response.answers.values_list("question__code", "value")) == [
        ("pore-visibility", 2),
        ("satisfaction", 6),
    ]


def test_the_database_refuses_a_second_response_per_moment_and_an_answer_off_every_scale():
    plan = _booked()
    with pytest.raises(IntegrityError), transaction.atomic():
        QuestionnaireResponse.objects.create(plan=plan, moment=ScoreMoment.BASELINE)
    response = QuestionnaireResponse.objects.get(plan=plan)
    with pytest.raises(IntegrityError), transaction.atomic():
        QuestionnaireAnswer.objects.create(
            response=response, question=OutcomeQuestion.objects.get(code="satisfaction"), value=11
        )


# --- The signed link ------------------------------------------------------------------------------------


def test_the_link_shows_big_radio_buttons_and_takes_the_answers_once(client):
    response = QuestionnaireResponse.objects.get(plan=_booked())
    path = _path(response)
    page = client.get(path).content.decode()
    assert 'class="btn-check" name="satisfaction"' in page and 'name="pore-visibility"' in page
    assert 'name="recommend"' not in page  # asked at the assessment only
    assert page.count("questionnaire-choice") == 11 + 5
    refused = client.post(path, {"satisfaction": "12", "pore-visibility": "3"})
    assert refused.status_code == 400 and "Please choose an answer." in refused.content.decode()
    assert not QuestionnaireAnswer.objects.exists()
    done = client.post(path, ANSWERS)
    assert done.status_code == 200 and "Thank you" in done.content.decode()
    response.refresh_from_db()
    assert response.submitted_at is not None and response.answers.count() == 2
    again = client.post(path, {"satisfaction": "0", "pore-visibility": "1"})
    assert again.status_code == 409 and "already have your answers" in again.content.decode()
    assert client.get(path).status_code == 200 and "Already received" in client.get(path).content.decode()
    assert sorted(response.answers.values_list("value", flat=True)) == [4, 4]


def test_the_assessment_link_asks_whether_they_would_recommend_it(client):
    plan = _booked()
    response = outcomes.questionnaire_open(plan=plan, moment=ScoreMoment.ASSESSMENT)
    page = client.get(_path(response)).content.decode()
    assert 'name="recommend"' in page and ">Yes</label>" in page
    client.post(_path(response), ANSWERS | {"recommend": "1"})
    assert response.answers.get(question__code="recommend").value_label == "Yes"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-3] + ("abc" if not token.endswith("abc") else "xyz"),
        lambda token: token.split(":")[0],
        lambda token: "not-a-token",
    ],
    ids=["signature", "truncated", "garbage"],
)
def test_a_tampered_link_gets_a_plain_page_and_stores_nothing(client, mangle):
    response = QuestionnaireResponse.objects.get(plan=_booked())
    path = reverse("public-questionnaire", args=[mangle(questionnaire_token(response))])
    for answer in (client.get(path), client.post(path, ANSWERS)):
        assert answer.status_code == 400 and "This link cannot be used" in answer.content.decode()
    assert not QuestionnaireAnswer.objects.exists()


def test_a_link_of_another_purpose_or_client_is_refused(client):
    response = QuestionnaireResponse.objects.get(plan=_booked())
    other = QuestionnaireResponse.objects.get(plan=_booked())
    from django.core import signing

    forged = signing.TimestampSigner(salt="plans.links.questionnaire").sign_object(
        {"r": other.pk, "c": response.plan.client_id}
    )
    confirm = signing.TimestampSigner(salt="plans.links.confirm").sign_object(
        {"r": response.pk, "c": response.plan.client_id}
    )
    for token in (forged, confirm):
        answer = client.get(reverse("public-questionnaire", args=[token]))
        assert answer.status_code == 400, token


def test_an_expired_link_is_refused(client):
    response = QuestionnaireResponse.objects.get(plan=_booked())
    path = _path(response)
    later = timezone.now() + dt.timedelta(days=settings.NOTIFICATIONS_LINK_MAX_AGE_DAYS + 1)
    with time_machine.travel(later, tick=False):
        answer = client.post(path, ANSWERS)
    assert answer.status_code == 400 and "expired" in answer.content.decode()
    response.refresh_from_db()
    assert response.submitted_at is None


def test_the_link_of_a_cancelled_plan_says_it_is_closed(client):
    plan = _booked()
    response = QuestionnaireResponse.objects.get(plan=plan)
    plan.status = PlanStatus.CANCELLED
    plan.save()
    answer = client.post(_path(response), ANSWERS)
    assert "closed" in answer.content.decode() and not QuestionnaireAnswer.objects.exists()


# --- Who reads the answers ------------------------------------------------------------------------------


def test_clinical_staff_read_the_answers_on_the_plan_page_and_front_desk_does_not(client, aesthetician, front_desk):
    plan = _booked()
    response = QuestionnaireResponse.objects.get(plan=plan)
    outcomes.questionnaire_submit(
        response=response, answers={"satisfaction": 7, "pore-visibility": 2}, now=timezone.now()
    )
    satisfaction = OutcomeQuestion.objects.get(code="satisfaction").text
    client.force_login(aesthetician)
    page = client.get(reverse("plan-detail", args=[plan.pk])).content.decode()
    assert satisfaction in page and re.search(r'data-answer="satisfaction">7 of 10<', page)
    client.force_login(front_desk)
    for url in (reverse("plan-detail", args=[plan.pk]), reverse("client-detail", args=[plan.client_id])):
        page = client.get(url).content.decode()
        assert client.get(url).status_code == 200
        assert satisfaction not in page and "data-answer" not in page and "7 of 10" not in page, url


# --- As the client meets it: web, worker and beat as real processes --------------------------------------

ON_POSTGRES_AND_REDIS = settings.DATABASES["default"]["ENGINE"].endswith("postgresql") and (
    settings.CELERY_BROKER_URL.startswith("redis://")
)


def _plan_two_days_ahead(user):
    """Ana works round the clock; a one-session plan bookable two days ahead at 10:00, so session 1's
    questionnaire is due at once (it goes three days before)."""
    from plans.models import Room, WorkingHours
    from tests.helpers.clock import LONDON
    from tests.helpers.plans import plan_to_book

    for weekday in range(7):
        WorkingHours.objects.create(
            practitioner=user.practitioner, weekday=weekday, start=dt.time(0), end=dt.time(23, 59)
        )
    Room.objects.create(name="Room A")
    day = (dt.datetime.now(LONDON) + dt.timedelta(days=2)).date()
    plan = plan_to_book(first_target=day, count=1, user=user)
    return plan, dt.datetime.combine(day, dt.time(10), tzinfo=LONDON)


def _answer_from(s, body: str, plan) -> None:
    from tests.notifications.stack import Browser

    path = re.search(r"https?://[^/\s]+(/e/questionnaire/\S+/)", body)[1]
    phone = Browser(s.url)
    status, page = phone.request(path)
    assert status == 200 and 'name="satisfaction"' in page, page[:800]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    status, page = phone.request(path, ANSWERS | {"csrfmiddlewaretoken": token})
    assert status == 200 and "We have your answers" in page, page[:1500]
    status, page = phone.request(path, {"satisfaction": "1", "pore-visibility": "1", "csrfmiddlewaretoken": token})
    assert status == 409 and "already have your answers" in page
    response = QuestionnaireResponse.objects.get(plan=plan)
    assert response.submitted_at is not None
    assert sorted(response.answers.values_list("value", flat=True)) == [4, 4]


def _questionnaire_mail(messages):
    return [m for m in messages if "a few short questions" in m["Subject"].lower()]


@pytest.mark.worker
@pytest.mark.timeout(150)
@pytest.mark.django_db(transaction=True)
def test_on_the_embedded_defaults_the_questionnaire_from_a_mail_file_is_answered_once(stack, staff):  # noqa: F811
    from tests.notifications.stack import mail_files, start_on_embedded_defaults, wait_for
    from tests.notifications.test_consent_stack import _book

    load_default_outcome_items()  # a transactional test starts from a flushed database
    plan, starts = _plan_two_days_ahead(staff)
    s, procs = start_on_embedded_defaults(stack)
    _book(s, staff, plan, starts)
    (message,) = wait_for(lambda: _questionnaire_mail(mail_files(s)), timeout=45, what="the questionnaire", procs=procs)
    _answer_from(s, text_body(message), plan)


@pytest.mark.worker
@pytest.mark.timeout(150)
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    not ON_POSTGRES_AND_REDIS, reason="needs DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://..."
)
def test_on_postgres_and_redis_the_delivered_questionnaire_is_answered_once(stack, staff, smtp_server):  # noqa: F811
    from clinic.celery import app
    from tests.notifications.stack import wait_for
    from tests.notifications.test_consent_stack import _book

    app.control.purge()
    load_default_outcome_items()
    plan, starts = _plan_two_days_ahead(staff)
    s = stack(broker_url=settings.CELERY_BROKER_URL, email_url=f"smtp://127.0.0.1:{smtp_server.port}")
    procs = [s.start_web(server="gunicorn"), s.start_worker(), s.start_beat()]
    _book(s, staff, plan, starts)
    (message,) = wait_for(
        lambda: _questionnaire_mail(smtp_server.received), timeout=45, what="the questionnaire", procs=procs
    )
    _answer_from(s, text_body(message), plan)
    app.control.purge()
