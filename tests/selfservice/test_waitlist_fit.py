"""A freed slot is never offered to a waitlisted session it does not fit.

The waitlist's fit check is the reschedule page's own (selfservice.MoveRules), narrowed to the
freed time and to earlier than the booking. Whatever the closures, time off, bookings, cut-off
and washouts, every slot it finds is checked against the scheduler's rules and then tried
through the staff reschedule service (rolled back): accepted as it is, with no override, no
cascade and no clinical decision.
"""

import contextlib
import datetime as dt

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plans import models, scheduling
from plans.services import booking, waitlist
from tests.helpers.clock import at
from tests.helpers.plans import plan_to_book
from tests.selfservice.conftest import MON, NOW
from tests.selfservice.test_reschedule_offers import Rollback, _try_move

scenario = st.fixed_dictionaries(
    {
        "which": st.integers(min_value=0, max_value=3),
        "closure_day": st.integers(min_value=-8, max_value=2),
        "closure_hours": st.integers(min_value=1, max_value=30),
        "time_off_day": st.integers(min_value=-8, max_value=2),
        "busy_day": st.integers(min_value=-8, max_value=2),
        "busy_hour": st.integers(min_value=9, max_value=15),
        "cutoff_hours": st.sampled_from([0, 24, 24 * 30, 24 * 40]),
        "peel": st.booleans(),
        "freed_day": st.integers(min_value=-10, max_value=3),
        "freed_hour": st.integers(min_value=7, max_value=17),
        "freed_hours": st.integers(min_value=1, max_value=48),
        "who": st.sampled_from(["ana", "ben", None]),
    }
)


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=scenario)
def test_a_freed_slot_is_offered_only_where_window_interval_washout_hours_closures_and_cut_off_allow(
    case, clinic, frozen_clock
):
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
        start = at(day + dt.timedelta(days=case["freed_day"]), case["freed_hour"])
        who = (clinic[case["who"]].id,) if case["who"] else None
        freed = waitlist.Freed(start, start + dt.timedelta(hours=case["freed_hours"]), who)
        session.refresh_from_db()
        slot = waitlist.fitting_slot(models.WaitlistEntry(session=session), freed, NOW)
        if slot is None:
            return
        tz = booking.clinic_tz()
        assert freed.start <= slot.start < freed.end and slot.start < session.starts_at
        assert who is None or slot.practitioner_id in who
        assert slot.start >= NOW + dt.timedelta(hours=case["cutoff_hours"])
        assert session.earliest <= slot.start.astimezone(tz).date() <= session.latest
        placed = [booking.placed_for(s) for s in sessions if s.pk != session.pk]
        spec = booking.spec_for(session)
        rules = booking.rules_for(plan)
        earlier = [p for p in placed if p.sequence < spec.sequence]
        assert scheduling.check_rules(spec, slot.start, earlier, rules, tz) == []
        assert scheduling.keeps_plan(slot, spec, placed, rules, tz), slot
        # Working hours, time off, closures, bookings, interval, washout, cascade: the service's word.
        _try_move(session, _as_offer(slot))
    finally:
        django_settings.CANCELLATION_CUTOFF_HOURS = original


def _as_offer(slot: scheduling.Slot):
    from plans.services.selfservice import Offer

    return Offer(slot.start, slot.practitioner_id, "", slot.room_id, "")
