"""A session whose pre-session check no longer counts at its time (it went stale, or the session
moved more than PRE_SESSION_CHECK_VALID_DAYS after it) takes a new check, kept beside the old
one; a check that still counts is refused as already recorded."""

import datetime as dt

import pytest
from django.urls import reverse

from plans.models import PreSessionCheck
from plans.outbox.links import link_url
from plans.recheck import CHECK_CODES
from plans.services import booking, safety
from tests.helpers.clock import at
from tests.helpers.safety import mn, record_check

pytestmark = pytest.mark.django_db

NO_TO_ALL = {code: "no" for code in CHECK_CODES}


def _move(session, starts_at, practitioner):
    """Reschedule through the service, confirming the cascade the rules ask for."""
    try:
        booking.session_reschedule(
            session=session, starts_at=starts_at, practitioner=practitioner, override_reason="Client away"
        )
    except booking.CascadeRequired as exc:
        cascade = [booking.ShiftRequest(s.session_key, s.new_slot.start) for s in exc.shifts]
        booking.session_reschedule(
            session=session,
            starts_at=starts_at,
            practitioner=practitioner,
            cascade=cascade,
            override_reason="Client away",
        )
    session.refresh_from_db()
    return session


def test_a_session_moved_past_its_check_takes_a_new_one_and_keeps_the_old(
    booked_plan, aesthetician, clinic, frozen_clock, settings
):
    settings.PRE_SESSION_CHECK_VALID_DAYS = 7
    s1 = mn(booked_plan(), 1)
    frozen_clock.move_to(s1.starts_at - dt.timedelta(days=2))
    first = record_check(s1)  # from the reminder link
    with pytest.raises(booking.BookingError, match="already recorded"):
        record_check(s1, by=aesthetician)

    def waiting_on_plan_page():
        return [s.pk for s in safety.plan_safety(s1.plan, clinical=True)["check_sessions"] if s.pk == s1.pk]

    assert waiting_on_plan_page() == []
    s1 = _move(s1, s1.starts_at + dt.timedelta(days=10), clinic["ana"])
    assert safety.check_refusal(s1) == "" and waiting_on_plan_page() == [s1.pk]
    frozen_clock.move_to(s1.starts_at - dt.timedelta(days=1))
    second = record_check(s1, by=aesthetician, recent_tan="Beach last weekend")
    assert waiting_on_plan_page() == []

    assert (first.sequence, second.sequence) == (1, 2)
    assert s1.newest_pre_session_check() == second
    kept = PreSessionCheck.objects.get(pk=first.pk)
    assert (kept.recorded_at, kept.answers, kept.via) == (first.recorded_at, first.answers, "client")
    with pytest.raises(booking.BookingError, match="already recorded"):
        record_check(s1, by=aesthetician)
    assert PreSessionCheck.objects.filter(session=s1).count() == 2


def test_a_check_recorded_too_long_before_the_session_is_taken_again_and_start_then_passes(
    booked_plan, aesthetician, frozen_clock, settings
):
    settings.PRE_SESSION_CHECK_VALID_DAYS = 7
    s1 = mn(booked_plan(), 1)
    frozen_clock.move_to(s1.starts_at - dt.timedelta(days=9))
    record_check(s1, by=aesthetician)  # counts now, but no longer on the day
    frozen_clock.move_to(s1.starts_at - dt.timedelta(hours=1))
    booking.session_check_in(session=s1, by=aesthetician)
    frozen_clock.move_to(s1.starts_at + dt.timedelta(minutes=1))
    with pytest.raises(booking.BookingError) as refused:
        booking.session_start(session=s1, by=aesthetician)
    assert refused.value.code == "needs_pre_session_check"

    record_check(s1, by=aesthetician)
    booking.session_start(session=s1, by=aesthetician)
    assert s1.pre_session_checks.count() == 2


def test_an_aesthetician_records_over_http_only_when_the_sessions_check_is_stale(
    client, booked_plan, aesthetician, frozen_clock, settings
):
    settings.PRE_SESSION_CHECK_VALID_DAYS = 7
    s1 = mn(booked_plan(), 1)
    url = reverse("session-check", args=[s1.pk])
    frozen_clock.move_to(s1.starts_at - dt.timedelta(days=8))
    record_check(s1)

    frozen_clock.move_to(s1.starts_at - dt.timedelta(hours=2))
    client.force_login(aesthetician)
    page = client.get(url).content.decode()
    assert "already recorded" not in page and 'name="recent_tan"' in page
    response = client.post(url, NO_TO_ALL)
    assert response.status_code == 302
    assert s1.newest_pre_session_check().recorded_by == aesthetician

    response = client.post(url, NO_TO_ALL, follow=True)
    assert "already recorded" in response.content.decode()
    assert s1.pre_session_checks.count() == 2


def test_the_clients_link_offers_the_check_again_after_the_session_moved_past_it(
    client, booked_plan, clinic, frozen_clock, settings
):
    settings.PRE_SESSION_CHECK_VALID_DAYS = 7

    def check_link(session):
        reminder = session.messages.filter(kind__startswith="reminder:").order_by("-id").first()
        url = link_url(reminder, "check")
        return url[url.index("/e/check/") :]

    s1 = mn(booked_plan(), 1)
    frozen_clock.move_to(s1.starts_at - dt.timedelta(days=2))
    assert client.post(check_link(s1), NO_TO_ALL).status_code == 200
    assert "already recorded" in client.get(check_link(s1)).content.decode()

    s1 = _move(s1, s1.starts_at + dt.timedelta(days=10), clinic["ana"])
    frozen_clock.move_to(s1.starts_at - dt.timedelta(days=2))
    page = client.get(check_link(s1)).content.decode()
    assert "already recorded" not in page and 'name="recent_tan"' in page
    response = client.post(check_link(s1), NO_TO_ALL)
    assert response.status_code == 200 and "Thank you" in response.content.decode()
    assert [c.via for c in s1.pre_session_checks.order_by("sequence")] == ["client", "client"]
    assert "already recorded" in client.get(check_link(s1)).content.decode()


def test_tomorrows_missing_check_item_leads_to_a_form_that_records_and_then_resolves(
    client, booked_plan, aesthetician, frozen_clock, settings
):
    from plans import worklist

    def items():
        return [i for g in worklist.worklist(clinical=True) if g.code == "check" for i in g.items]

    settings.PRE_SESSION_CHECK_VALID_DAYS = 7
    s1 = mn(booked_plan(), 1)
    frozen_clock.move_to(s1.starts_at - dt.timedelta(days=10))
    record_check(s1, by=aesthetician)
    frozen_clock.move_to(at(s1.local_date() - dt.timedelta(days=1), 9))
    [item] = items()
    client.force_login(aesthetician)
    form = client.get(item.url).content.decode()
    assert 'name="recent_tan"' in form and "already recorded" not in form

    client.post(item.url, NO_TO_ALL)
    assert items() == []
    assert s1.pre_session_checks.count() == 2
