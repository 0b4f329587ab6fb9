"""The signed links in emails: confirm attendance, cancel, unsubscribe. No login."""

import datetime as dt

import pytest
import time_machine
from django.core import signing

from plans import outbox
from plans.models import Message, MessageStatus, PlanSession, SessionStatus
from plans.outbox.links import link_url, make_token
from tests.factories import ClientFactory
from tests.helpers.clock import local
from tests.helpers.outbox import book, reschedule
from tests.helpers.plans import booked_plan

pytestmark = pytest.mark.django_db
BOOKED_AT = local(2026, 1, 5, 10)


@pytest.fixture
def booked():
    with time_machine.travel(BOOKED_AT, tick=False):
        (session,) = book(booked_plan(starts=[local(2026, 1, 20)]))
    return session


def path(message, purpose):
    return link_url(message, purpose).removeprefix("http://127.0.0.1:8000")


def reminder(session):
    return Message.objects.get(session=session, kind="reminder:24h")


def test_confirming_attendance_asks_first_then_records_it(client, booked):
    message = reminder(booked)
    with time_machine.travel(local(2026, 1, 19, 9, 5), tick=False):
        page = client.get(path(message, "confirm"))
        assert page.status_code == 200 and b"Yes, I will attend" in page.content
        message.refresh_from_db()
        assert message.attendance_confirmed_at is None  # a mail scanner's GET changes nothing
        done = client.post(path(message, "confirm"))
    assert done.status_code == 200 and b"We look forward to seeing you on Tuesday 20 January at 09:00" in done.content
    message.refresh_from_db()
    assert message.attendance_confirmed_at == local(2026, 1, 19, 9, 5)


def test_cancelling_before_the_cut_off_cancels_the_session_and_sends_a_notice(client, booked, settings):
    settings.CANCELLATION_CUTOFF_HOURS = 24
    with time_machine.travel(local(2026, 1, 19, 8, 59), tick=False):
        response = client.post(path(reminder(booked), "cancel"))
    assert response.status_code == 200 and b"is cancelled" in response.content
    booked.refresh_from_db()
    assert booked.status == SessionStatus.CANCELLED and booked.cancelled_by_client
    assert Message.objects.get(session=booked, kind="cancellation").status == MessageStatus.PENDING
    assert reminder(booked).status == MessageStatus.CANCELLED


def test_cancelling_after_the_cut_off_is_refused_and_changes_nothing(client, booked, settings):
    settings.CANCELLATION_CUTOFF_HOURS = 24
    with time_machine.travel(local(2026, 1, 19, 9, 1), tick=False):
        response = client.post(path(reminder(booked), "cancel"))
    assert response.status_code == 409
    assert b"up to 24 hours before" in response.content and b"+44 20 7946 0000" in response.content
    booked.refresh_from_db()
    assert booked.status == SessionStatus.BOOKED
    assert not Message.objects.filter(kind="cancellation").exists()


def test_unsubscribing_with_one_click_stops_all_pending_email(client, booked):
    response = client.post(
        path(reminder(booked), "unsubscribe"),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    booked.plan.client.refresh_from_db()
    assert booked.plan.client.email_consent is False
    assert not Message.objects.filter(status=MessageStatus.PENDING).exists()
    assert set(Message.objects.values_list("status_reason", flat=True)) == {"The client unsubscribed."}


def test_a_tampered_link_shows_a_clear_page_and_changes_nothing(client, booked):
    token = make_token(reminder(booked), "cancel")
    tampered = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")
    response = client.post(f"/e/cancel/{tampered}/")
    assert response.status_code == 400 and b"This link is not valid" in response.content
    booked.refresh_from_db()
    assert booked.status == SessionStatus.BOOKED


def test_a_link_for_one_purpose_cannot_be_used_for_another(client, booked):
    token = make_token(reminder(booked), "confirm")
    assert client.post(f"/e/cancel/{token}/").status_code == 400
    assert client.post(f"/e/unsubscribe/{token}/").status_code == 400
    booked.refresh_from_db()
    assert booked.status == SessionStatus.BOOKED and booked.plan.client.email_consent


def test_an_expired_link_is_refused(client, booked, settings):
    settings.NOTIFICATIONS_LINK_MAX_AGE_DAYS = 30
    with time_machine.travel(BOOKED_AT, tick=False):
        url = path(reminder(booked), "confirm")
    with time_machine.travel(BOOKED_AT + dt.timedelta(days=31), tick=False):
        response = client.post(url)
    assert response.status_code == 400 and b"expired" in response.content
    assert reminder(booked).attendance_confirmed_at is None


def test_a_token_naming_another_clients_session_is_refused(client, booked):
    with time_machine.travel(BOOKED_AT, tick=False):
        (other,) = book(booked_plan(client=ClientFactory(), starts=[local(2026, 1, 21)]))
    mine = reminder(booked)
    forged = signing.TimestampSigner(salt="plans.links.cancel").sign_object(
        {"m": mine.pk, "s": other.pk, "c": mine.client_id}
    )
    with time_machine.travel(local(2026, 1, 10), tick=False):
        response = client.post(f"/e/cancel/{forged}/")
    assert response.status_code == 400 and b"does not match" in response.content
    other.refresh_from_db()
    booked.refresh_from_db()
    assert other.status == booked.status == SessionStatus.BOOKED


def test_a_link_from_an_email_about_the_old_time_cannot_confirm_the_new_one(client, booked):
    old = reminder(booked)
    old_url = path(old, "confirm")
    with time_machine.travel(local(2026, 1, 6), tick=False):
        reschedule(booked, local(2026, 1, 27))
        response = client.post(old_url)
    assert response.status_code == 409 and b"moved" in response.content


def test_a_series_confirmation_gives_each_appointment_its_own_cancel_link(client, settings, smtp_server):
    settings.CANCELLATION_CUTOFF_HOURS = 24
    with time_machine.travel(BOOKED_AT, tick=False):
        first, second, third = book(booked_plan(starts=[local(2026, 1, 20), local(2026, 2, 17), local(2026, 3, 17)]))
        (confirmation_id,) = outbox.sweep_due(BOOKED_AT)
        assert outbox.deliver(confirmation_id) == "sent"
    (mail,) = smtp_server.wait_for(1)
    body = mail.get_body(preferencelist=("plain",)).get_content()
    links = [line.split(": ", 1)[1] for line in body.splitlines() if "Cancel this one: " in line]
    assert len(links) == 3 and "Confirm you will attend" not in body

    # The second appointment's link cancels the second appointment, and only it.
    with time_machine.travel(local(2026, 1, 6, 9), tick=False):
        page = client.get(links[1].removeprefix("http://127.0.0.1:8000"))
        assert b"Microneedling session 2 of 3" in page.content and b"17 February at" in page.content
        done = client.post(links[1].removeprefix("http://127.0.0.1:8000"))
    assert done.status_code == 200
    statuses = [s.status for s in PlanSession.objects.filter(pk__in=[first.pk, second.pk, third.pk]).order_by("pk")]
    assert statuses == [SessionStatus.BOOKED, SessionStatus.CANCELLED, SessionStatus.BOOKED]


def test_a_series_link_is_outdated_by_a_reschedule_of_its_own_appointment(client):
    with time_machine.travel(BOOKED_AT, tick=False):
        first, second = book(booked_plan(starts=[local(2026, 1, 20), local(2026, 2, 17)]))
        confirmation = Message.objects.get(kind="confirmation")
        link = path_for_session(confirmation, second)
        reschedule(second, local(2026, 2, 24))
        response = client.post(link)
    assert response.status_code == 409 and b"moved since this email" in response.content
    second.refresh_from_db()
    assert second.status == SessionStatus.BOOKED


def test_a_link_cannot_name_a_session_the_message_is_not_about(client):
    with time_machine.travel(BOOKED_AT, tick=False):
        (mine,) = book(booked_plan(starts=[local(2026, 1, 20)]))
        (other,) = book(booked_plan(starts=[local(2026, 1, 21)]))
    with pytest.raises(ValueError):
        make_token(reminder(mine), "cancel", other)
    forged = signing.TimestampSigner(salt="plans.links.cancel").sign_object(
        {"m": reminder(mine).pk, "s": other.pk, "c": mine.plan.client_id, "v": 0}
    )
    assert client.post(f"/e/cancel/{forged}/").status_code == 400
    other.refresh_from_db()
    assert other.status == SessionStatus.BOOKED


def path_for_session(message, session):
    return link_url(message, "cancel", session).removeprefix("http://127.0.0.1:8000")


def test_a_cancel_link_opened_again_after_cancelling_says_so_and_offers_nothing(client, booked):
    url = path(reminder(booked), "cancel")
    with time_machine.travel(local(2026, 1, 10), tick=False):
        assert client.post(url).status_code == 200
        again = client.get(url)
    page = again.content.decode()
    assert again.status_code == 200
    assert "is already cancelled" in page and "Tuesday 20 January at 09:00" in page
    assert "Cancel this appointment" not in page and "<form" not in page


def test_an_outdated_confirm_link_shows_the_new_time_as_moved_before_any_click(client, booked):
    old_url = path(reminder(booked), "confirm")
    with time_machine.travel(local(2026, 1, 6), tick=False):
        reschedule(booked, local(2026, 1, 27))
        page = client.get(old_url).content.decode()
    assert "moved since this email" in page and "Tuesday 27 January at 09:00" in page
    assert "Yes, I will attend" not in page and "<form" not in page


def test_a_cancel_link_past_the_cut_off_shows_the_phone_number_instead_of_a_button(client, booked):
    with time_machine.travel(local(2026, 1, 19, 12), tick=False):
        page = client.get(path(reminder(booked), "cancel")).content.decode()
    assert "+44 20 7946 0000" in page and "Cancel this appointment" not in page


def test_an_unsubscribe_link_opened_again_offers_nothing(client, booked):
    url = path(reminder(booked), "unsubscribe")
    client.post(url)
    page = client.get(url).content.decode()
    assert "You are unsubscribed" in page and "<form" not in page


def test_error_pages_a_client_can_meet_give_the_clinic_phone_number(client, booked, settings):
    settings.PUBLIC_RATE_LIMIT_REQUESTS = 1
    assert b"+44 20 7946 0000" in client.get("/e/cancel/not-a-token/").content  # tampered or expired
    missing = client.get("/e/nothing-here/")
    assert missing.status_code == 404 and b"+44 20 7946 0000" in missing.content
    limited = client.get("/e/cancel/not-a-token/")
    assert limited.status_code == 429 and b"+44 20 7946 0000" in limited.content
