"""The client's own page from any email: who it opens for, what it shows, and what the client may do there."""

import datetime as dt
import re

import pytest
from django.urls import reverse

from plans.models import ClientAccess, PlanSession, PlanStatus, SessionStatus
from plans.services import selfservice
from tests.factories import ClientFactory
from tests.helpers.clock import as_client_reads, at
from tests.selfservice.conftest import MON, NOW


def page_path(client_obj) -> str:
    return selfservice.client_page_url(client=client_obj).removeprefix("http://127.0.0.1:8000")


def first_session(plan) -> PlanSession:
    return plan.sessions.order_by("sequence").first()


def test_the_page_lists_upcoming_sessions_with_time_place_and_practitioner(client, booked_plan, settings):
    response = client.get(page_path(booked_plan.client))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Microneedling session 1 of 3" in text and "Microneedling session 3 of 3" in text
    assert "Monday 1 March at" in text and "2027" not in text  # this year: no year
    assert "Ana Silva" in text and settings.CLINIC_ADDRESS in text
    # The cut-off and the clinic's policy are on the page before any click.
    assert settings.CANCELLATION_POLICY_TEXT in text


def test_another_clients_token_does_not_open_this_clients_session(client, booked_plan):
    other = ClientFactory()
    token = page_path(other).split("/")[3]
    session = first_session(booked_plan)
    response = client.post(reverse("public-page-cancel", args=[token, session.pk]), {"version": session.version})
    assert response.status_code == 409
    assert PlanSession.objects.get(pk=session.pk).status == SessionStatus.BOOKED
    assert "Microneedling" not in client.get(page_path(other)).content.decode()


def test_a_token_naming_another_clients_access_is_refused(client, booked_plan):
    other = ClientFactory()
    access = selfservice.client_access_issue(client=other)
    from plans.outbox.links import client_token

    forged = client_token(access.pk, booked_plan.client.pk)  # signed, but access and client disagree
    response = client.get(reverse("public-page", args=[forged]))
    assert response.status_code == 400
    assert "does not match" in response.content.decode()


def test_an_expired_link_is_refused(client, booked_plan, frozen_clock, settings):
    path = page_path(booked_plan.client)
    frozen_clock.shift(dt.timedelta(days=settings.CLIENT_PAGE_LINK_MAX_AGE_DAYS + 1))
    response = client.get(path)
    assert response.status_code == 400
    assert "expired" in response.content.decode()


def test_a_revoked_link_is_refused_and_the_next_email_gets_a_new_one(client, booked_plan, front_desk):
    path = page_path(booked_plan.client)
    client.force_login(front_desk)
    response = client.post(reverse("client-access-revoke", args=[booked_plan.client.pk]))
    assert response.status_code == 302
    client.logout()
    response = client.get(path)
    assert response.status_code == 400 and "withdrawn" in response.content.decode()
    assert client.get(page_path(booked_plan.client)).status_code == 200
    assert ClientAccess.objects.filter(client=booked_plan.client, revoked_at__isnull=False).count() == 1


def test_a_stopped_plans_sessions_are_not_actionable(client, booked_plan):
    path = page_path(booked_plan.client)
    token = path.split("/")[3]
    session = first_session(booked_plan)
    booked_plan.status = PlanStatus.CANCELLED
    booked_plan.save(update_fields=["status"])
    assert "Microneedling session 1" not in client.get(path).content.decode()
    response = client.post(reverse("public-page-cancel", args=[token, session.pk]), {"version": session.version})
    assert response.status_code == 409
    assert client.get(reverse("public-page-reschedule", args=[token, session.pk])).status_code == 404


def test_cancel_inside_the_cut_off_is_refused_with_the_phone_number(client, booked_plan, frozen_clock, settings):
    session = first_session(booked_plan)
    path = page_path(booked_plan.client)
    token = path.split("/")[3]
    frozen_clock.move_to(session.starts_at - dt.timedelta(hours=settings.CANCELLATION_CUTOFF_HOURS - 1))
    assert settings.CLINIC_PHONE in client.get(path).content.decode()
    response = client.post(reverse("public-page-cancel", args=[token, session.pk]), {"version": session.version})
    assert response.status_code == 409 and settings.CLINIC_PHONE in response.content.decode()
    assert PlanSession.objects.get(pk=session.pk).status == SessionStatus.BOOKED


def test_cancel_before_the_cut_off_cancels_as_the_client(client, booked_plan):
    session = first_session(booked_plan)
    token = page_path(booked_plan.client).split("/")[3]
    response = client.post(reverse("public-page-cancel", args=[token, session.pk]), {"version": session.version})
    assert response.status_code == 200
    session.refresh_from_db()
    assert session.status == SessionStatus.CANCELLED and session.cancelled_by_client


def _offers(client, token, session):
    response = client.get(reverse("public-page-reschedule", args=[token, session.pk]))
    assert response.status_code == 200
    return response


def test_reschedule_moves_once_through_the_booking_service_and_shows_on_the_worklist(client, booked_plan, aesthetician):
    session = first_session(booked_plan)
    token = page_path(booked_plan.client).split("/")[3]
    _offers(client, token, session)
    offers = selfservice.reschedule_offers(session=session)
    assert offers
    chosen = offers[-1]
    data = {"version": session.version, "slot": chosen.value}
    url = reverse("public-page-reschedule", args=[token, session.pk])
    first = client.post(url, data)
    again = client.post(url, data)  # the double submit
    assert first.status_code == 200, first.content.decode()
    assert again.status_code == 409
    session.refresh_from_db()
    assert session.starts_at == chosen.start and session.version == 1
    assert session.client_reschedules == 1 and session.moved_by_client_at is not None
    assert session.history.filter(history_change_reason__icontains="client").exists()
    # The move rewrote the outbox like a staff move: reminders re-timed at the new version
    # (the pending confirmation renders the new time, with the .ics at SEQUENCE 1).
    from plans.outbox.render import build_email

    email = build_email(session.messages.get(kind="confirmation"), now=NOW, message_id="<x@clinic.example>")
    assert as_client_reads(chosen.start, NOW) in email.body
    client.force_login(aesthetician)
    assert "Moved by the client" in client.get(reverse("home")).content.decode()


def test_reschedules_per_session_are_limited(client, booked_plan, settings):
    settings.CLIENT_RESCHEDULES_PER_SESSION = 1
    session = first_session(booked_plan)
    token = page_path(booked_plan.client).split("/")[3]
    url = reverse("public-page-reschedule", args=[token, session.pk])
    offer = selfservice.reschedule_offers(session=session)[0]
    assert client.post(url, {"version": 0, "slot": offer.value}).status_code == 200
    session.refresh_from_db()
    assert selfservice.reschedule_offers(session=session) == []
    assert "already been moved online" in client.get(url).content.decode()
    offer = selfservice.reschedule_offers(session=session, now=None, limit=1)
    assert client.post(url, {"version": session.version, "slot": f"{at(MON, 12).isoformat()}|1|1"}).status_code == 409
    assert PlanSession.objects.get(pk=session.pk).client_reschedules == 1


def test_a_slot_not_offered_is_refused(client, booked_plan):
    session = first_session(booked_plan)
    token = page_path(booked_plan.client).split("/")[3]
    url = reverse("public-page-reschedule", args=[token, session.pk])
    outside = session.latest + dt.timedelta(days=10)
    slot = f"{at(outside, 10).isoformat()}|{session.practitioner_id}|{session.room_id}"
    assert client.post(url, {"version": session.version, "slot": slot}).status_code == 409
    assert client.post(url, {"version": session.version, "slot": "garbage"}).status_code == 409
    assert PlanSession.objects.get(pk=session.pk).version == 0


@pytest.mark.parametrize("role", ["aesthetician", "front_desk"])
def test_staff_see_the_issued_link_and_front_desk_sees_no_clinical_data(client, booked_plan, role, request):
    page_path(booked_plan.client)
    user = request.getfixturevalue(role)
    client.force_login(user)
    text = client.get(reverse("client-detail", args=[booked_plan.client.pk])).content.decode()
    assert "Withdraw the link" in text and "Issued" in text
    # The link card sits beside the profile; the skin profile and the screening card are clinical.
    # The skin type as its cell prints it: a bare "II" can turn up inside a signed link's token.
    skin = f'<dd class="col-7">{booked_plan.client.get_fitzpatrick_display()}</dd>'
    clinical_markers = ["Fitzpatrick type", skin, 'id="screening-status"']
    shown = [marker for marker in clinical_markers if marker in text]
    if role == "front_desk":
        assert not shown, f"front desk sees {shown}"
    else:
        assert shown == clinical_markers


def test_every_email_carries_the_link_to_the_clients_page(booked_plan):
    from plans.outbox.render import build_email

    message = first_session(booked_plan).messages.first()
    email = build_email(message, now=NOW, message_id="<x@clinic.example>")
    assert "Manage your appointments: http://127.0.0.1:8000/e/page/" in email.body
    assert "/e/page/" in email.alternatives[0][0]


def test_the_page_links_the_consent_to_sign_and_each_sessions_pre_session_check(client, clinic, frozen_clock):
    from plans import scheduling
    from plans.services import booking
    from tests.helpers.plans import plan_to_book

    plan = plan_to_book(first_target=MON)
    new_client = ClientFactory(treatment_consent=False)
    plan.client = new_client
    plan.save(update_fields=["client"])
    proposal = booking.series_propose(plan=plan, preferences=scheduling.Preferences(practitioner_id=clinic["ana"].id))
    booking.series_book(plan=plan, proposal=proposal.result.bookings)
    path = page_path(new_client)
    text = client.get(path).content.decode()
    consent = re.search(r'id="consent-to-sign".*?href="([^"]+)"', text, re.S)
    assert consent, text
    assert client.get(consent.group(1).removeprefix("http://127.0.0.1:8000")).status_code == 200
    assert "pre-session-check" not in text  # weeks ahead: a check now would be stale by the visit
    first = plan.sessions.order_by("sequence").first()
    frozen_clock.move_to(first.starts_at - dt.timedelta(days=2))
    text = client.get(path).content.decode()
    checks = re.findall(r'class="btn btn-outline-primary pre-session-check" href="([^"]+)"', text)
    assert len(checks) == 1  # session 1 only: the others are weeks away
    check_path = checks[0].removeprefix("http://127.0.0.1:8000")
    assert client.get(check_path).status_code == 200
    from plans import recheck

    response = client.post(check_path, {code: "no" for code in recheck.CHECK_CODES})
    assert response.status_code == 200 and "Thank you" in response.content.decode()
    # Filled once: the page no longer offers it.
    assert "pre-session-check" not in client.get(path).content.decode()
