"""The reschedule offer never contains a slot the clinic itself would refuse.

Each offered slot is checked against the scheduler's own rules and then tried through the
staff reschedule service (rolled back): it must be accepted as it is, with no override, no
cascade and no clinical decision, and lie at least the cut-off ahead.
"""

import contextlib
import datetime as dt

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plans import models, scheduling
from plans.services import booking, selfservice
from tests.helpers.clock import at
from tests.helpers.plans import plan_to_book
from tests.selfservice.conftest import MON, NOW


class Rollback(Exception):
    pass


def _try_move(session, offer) -> None:
    """The staff reschedule accepts the offer as it is; nothing is kept."""
    try:
        with transaction.atomic():
            booking.session_reschedule(
                session=session,
                starts_at=offer.start,
                practitioner=models.Practitioner.objects.get(pk=offer.practitioner_id),
                room=models.Room.objects.get(pk=offer.room_id),
            )
            raise Rollback
    except Rollback:
        pass


scenario = st.fixed_dictionaries(
    {
        "which": st.integers(min_value=0, max_value=3),
        "closure_day": st.integers(min_value=-8, max_value=8),
        "closure_hours": st.integers(min_value=1, max_value=30),
        "time_off_day": st.integers(min_value=-8, max_value=8),
        "busy_day": st.integers(min_value=-8, max_value=8),
        "busy_hour": st.integers(min_value=9, max_value=15),
        "cutoff_hours": st.sampled_from([0, 24, 24 * 30, 24 * 40]),
        "peel": st.booleans(),
    }
)


@pytest.mark.django_db
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=scenario)
def test_every_offered_slot_keeps_window_interval_washout_hours_closures_and_cut_off(case, clinic, frozen_clock):
    try:
        with transaction.atomic():
            _check(case, clinic)
            raise Rollback
    except Rollback:
        pass


def _check(case, clinic) -> None:
    from django.conf import settings as django_settings

    original = django_settings.CANCELLATION_CUTOFF_HOURS
    django_settings.CANCELLATION_CUTOFF_HOURS = case["cutoff_hours"]
    try:
        plan = plan_to_book(first_target=MON, peel_after=1 if case["peel"] else None)
        proposal = booking.series_propose(
            plan=plan, preferences=scheduling.Preferences(practitioner_id=clinic["ana"].id)
        )
        assert proposal.result.ok
        booking.series_book(plan=plan, proposal=proposal.result.bookings)
        sessions = list(plan.sessions.order_by("sequence"))
        session = sessions[case["which"] % len(sessions)]
        day = session.local_date()
        closure_start = at(day + dt.timedelta(days=case["closure_day"]), 12)
        models.TimeOff.objects.create(
            starts_at=closure_start, ends_at=closure_start + dt.timedelta(hours=case["closure_hours"]), reason="closed"
        )
        off = at(day + dt.timedelta(days=case["time_off_day"]), 9)
        models.TimeOff.objects.create(
            practitioner=clinic["ben"], starts_at=off, ends_at=off + dt.timedelta(hours=8), reason="leave"
        )
        other = plan_to_book(first_target=MON, count=1).sessions.get()
        busy = at(day + dt.timedelta(days=case["busy_day"]), case["busy_hour"])
        if busy.weekday() < 5:
            with contextlib.suppress(booking.BookingError):  # a closure may hold that time: no rival then
                booking.session_book(session=other, starts_at=busy, practitioner=clinic["ana"])
        offers = selfservice.reschedule_offers(session=session, now=NOW)
        tz = booking.clinic_tz()
        rules = booking.rules_for(plan)
        placed = [booking.placed_for(s) for s in sessions if s.pk != session.pk]
        spec = booking.spec_for(session)
        for offer in offers:
            assert offer.start >= NOW + dt.timedelta(hours=case["cutoff_hours"])
            local_day = offer.start.astimezone(tz).date()
            assert session.earliest <= local_day <= session.latest
            assert (
                scheduling.check_rules(spec, offer.start, [p for p in placed if p.sequence < spec.sequence], rules, tz)
                == []
            )
            assert scheduling.keeps_plan(
                scheduling.Slot(
                    offer.practitioner_id,
                    offer.room_id,
                    offer.start,
                    offer.start + dt.timedelta(minutes=session.duration_minutes),
                    offer.start + dt.timedelta(minutes=session.duration_minutes + session.buffer_minutes),
                ),
                spec,
                placed,
                rules,
                tz,
            ), offer
            # Working hours, time off, closures, bookings, interval, washout, cascade: the service's word.
            _try_move(session, offer)
    finally:
        django_settings.CANCELLATION_CUTOFF_HOURS = original


def test_a_session_with_no_room_for_a_move_gets_no_offer_and_plain_words(client, booked_plan, settings):
    settings.CANCELLATION_CUTOFF_HOURS = 24 * 200  # every free time lies inside the cut-off
    from django.urls import reverse

    session = booked_plan.sessions.order_by("sequence").first()
    token = selfservice.client_page_url(client=booked_plan.client).rsplit("/e/page/", 1)[1].strip("/")
    text = client.get(reverse("public-page-reschedule", args=[token, session.pk])).content.decode()
    assert settings.CLINIC_PHONE in text
    assert 'name="slot"' not in text
