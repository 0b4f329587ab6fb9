"""Property: whatever a non-clinician does (profile and screening edits, pre-session checks,
bookings with any override reason, completions at any depth), no session is completed that
breaks a hard stop, a deferral, a washout or a depth cap."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from plans.models import ClinicalOverride, SessionKind, SessionStatus
from plans.services import booking, clients, safety
from plans.services.plans import client_profile, protocol_params_active
from tests.helpers.clock import at
from tests.helpers.records import complete
from tests.helpers.safety import check_answers, no_to_all

ACTIONS = st.one_of(
    st.tuples(st.just("fitzpatrick"), st.integers(1, 6)),
    st.tuples(st.just("screen"), st.sampled_from(["pregnant_or_nursing", "active_infection", "anticoagulants", None])),
    st.tuples(st.just("isotretinoin"), st.integers(0, 200)),  # days before today of the last dose
    st.tuples(st.just("check"), st.sampled_from(["", "cold_sore_or_infection", "filler_or_toxin", "recent_tan"])),
    st.tuples(st.just("move"), st.integers(-20, 20)),  # days from the session's time, with an override reason
    # A completion at some depth, with (True) or without a "nothing changed" check at check-in first.
    st.tuples(st.just("complete"), st.tuples(st.sampled_from(["0.5", "0.5", "0.75", "1.5"]), st.booleans())),
    st.tuples(st.just("complete"), st.tuples(st.just("0.5"), st.just(True))),  # the everyday case, more often
    st.tuples(st.just("wait"), st.integers(1, 30)),
)


def _no_hard_stop_or_lower_cap(plan, depth: Decimal) -> None:
    profile = client_profile(plan.client)
    lines = safety.plan_differences(plan)
    assert not [line for line in lines if line.startswith("Hard stop")], lines
    assert depth <= plan.params.depth_cap_mm
    chosen = [p for p in protocol_params_active() if p.code == plan.params.code]
    assert chosen or not profile  # the plan's protocol is among the shipped ones
    assert not any("would now be chosen" in line for line in lines), lines


@pytest.mark.django_db(transaction=False)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.lists(ACTIONS, min_size=1, max_size=10))
def test_no_sequence_by_a_non_clinician_completes_an_unsafe_session(
    actions, booked_plan, aesthetician, front_desk, frozen_clock
):
    with transaction.atomic():
        frozen_clock.move_to(at(dt.date(2027, 2, 1), 8))
        plan = booked_plan()
        client = plan.client
        answers = no_to_all()
        for index, (kind, value) in enumerate(actions):
            who = aesthetician if index % 2 else front_desk
            session = plan.sessions.filter(kind=SessionKind.MICRONEEDLING, status=SessionStatus.BOOKED).first()
            try:
                if kind == "fitzpatrick":
                    clients.client_update(client=client, fitzpatrick=value)
                elif kind == "screen":
                    answers = no_to_all(**({value: None} if value else {}))
                    clients.client_update(client=client, screening=answers, screened_by=aesthetician)
                elif kind == "isotretinoin":
                    today = dt.date(2027, 2, 1)
                    answers = no_to_all(isotretinoin_past=today - dt.timedelta(days=value))
                    clients.client_update(client=client, screening=answers, screened_by=aesthetician)
                elif kind == "check" and session is not None:
                    safety.pre_session_check_record(
                        session=session, answers=check_answers(**({value: "yes"} if value else {})), by=aesthetician
                    )
                elif kind == "move" and session is not None:
                    booking.session_reschedule(
                        session=session,
                        starts_at=session.starts_at + dt.timedelta(days=value),
                        practitioner=session.practitioner,
                        override_reason="client asked",
                        cascade=None,
                        by=who,
                    )
                elif kind == "complete" and session is not None:
                    depth, check_in = value
                    frozen_clock.move_to(session.starts_at + dt.timedelta(minutes=20))
                    if check_in and not safety.check_refusal(session):
                        safety.pre_session_check_record(session=session, answers=check_answers(), by=aesthetician)
                    done = complete(session, depth, above_plan_reason="client asked", by=aesthetician)
                    plan.refresh_from_db()
                    event("a session was completed")
                    _no_hard_stop_or_lower_cap(plan, done.depth_used_mm)
                    assert done.depth_used_mm <= done.depth_mm
                    assert timezone_day(done) >= plan.earliest_start or plan.earliest_start == plan.requested_start
                elif kind == "wait":
                    frozen_clock.shift(dt.timedelta(days=value))
            except (booking.BookingError, safety.ValidationError):
                pass
            plan.refresh_from_db()
        # No clinical rule was ever overridden, and every completed session keeps its washouts.
        assert not ClinicalOverride.objects.filter(session__plan=plan).exists()
        done = [s for s in plan.sessions.all() if s.status == SessionStatus.COMPLETED]
        others = [s for s in plan.sessions.all() if s.is_occupying]
        for s in done:
            placed = [booking.placed_for(o) for o in others if o.id != s.id]
            _window, clinical = booking._split_rule_problems(
                booking.spec_for(s), s.starts_at, placed, booking.rules_for(plan), booking.clinic_tz()
            )
            assert not clinical
        transaction.set_rollback(True)


def timezone_day(session):
    return session.local_date()
