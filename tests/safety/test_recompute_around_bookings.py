"""Issue #16 item 2, recompute: a held plan with sessions booked or done is re-planned around
them. Booked and completed sessions stay where they are; the rest comes from the client's
current profile and screening with the engine's rules, from the last kept session's real date;
a kept session still to come that breaks a new rule is named, for staff to move, or cancelled
only when the clinician deciding says so."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from plans.models import HoldStatus, SessionKind, SessionStatus
from plans.services import booking, clients, safety
from tests.helpers.clock import at
from tests.helpers.safety import make_plan_for, mn


def _weekday(day: dt.date) -> dt.date:
    while day.weekday() > 4:
        day += dt.timedelta(days=1)
    return day


@pytest.fixture
def type_i_plan(screened, aesthetician, clinic):
    """A P1 plan (Fitzpatrick I, 1.5 mm cap, intervals 3-6 weeks) with session 1 booked, then
    `second_after` days later session 2 too when asked; then the client is found to be type VI."""

    def make(second_after: int | None = None):
        plan = make_plan_for(screened(fitzpatrick=1), aesthetician)
        s1 = mn(plan, 1)
        day1 = _weekday(s1.target)
        booking.session_book(session=s1, starts_at=at(day1, 10), practitioner=clinic["ana"], by=aesthetician)
        if second_after is not None:
            s2 = mn(plan, 2)
            booking.session_book(
                session=s2,
                starts_at=at(_weekday(day1 + dt.timedelta(days=second_after)), 10),
                practitioner=clinic["ana"],
                override_reason="client's diary",
                by=aesthetician,
            )
        clients.client_update(client=plan.client, fitzpatrick=6)
        plan.refresh_from_db()
        assert plan.is_on_hold
        return plan

    return make


def test_recompute_keeps_the_booked_session_and_re_plans_the_rest_from_its_date(type_i_plan, clinician):
    plan = type_i_plan()
    s1 = mn(plan, 1)
    booked_at = s1.starts_at

    safety.hold_decide(
        hold=safety.plan_open_hold(plan), decision=HoldStatus.RECOMPUTED, note="Type VI: P3 from now", by=clinician
    )

    plan.refresh_from_db()
    assert not plan.is_on_hold and plan.protocol.code == "p3-conservative-iv-vi"
    s1.refresh_from_db()
    assert s1.status == SessionStatus.BOOKED and s1.starts_at == booked_at, "the booked session stays as it was"
    assert s1.depth_mm <= Decimal("1.0"), "its planned depth comes down to the new cap"
    sessions = list(plan.sessions.order_by("sequence"))
    mns = [s for s in sessions if s.kind == SessionKind.MICRONEEDLING]
    assert [s.mn_number for s in mns] == [1, 2, 3, 4] and mns[0].pk == s1.pk
    params = plan.params
    previous = s1.local_date()
    for s in mns[1:]:
        assert s.status == SessionStatus.PROPOSED and s.depth_mm <= params.depth_cap_mm
        assert s.earliest >= previous + dt.timedelta(days=params.interval_min_days)
        previous = s.target
    pih = next(s for s in sessions if s.title.startswith("PIH check"))
    assert pih.anchor_mn == 1 and pih.earliest == s1.local_date() + dt.timedelta(days=14)
    follow_up = min((s for s in sessions if s.kind == SessionKind.FOLLOW_UP), key=lambda s: s.target)
    assert follow_up.target == mns[-1].target + dt.timedelta(days=params.follow_up_days)
    assert [s.sequence for s in sessions] == list(range(1, len(sessions) + 1))
    days = [s.local_date() if s.starts_at else s.target for s in sessions]
    assert days == sorted(days), "sequences follow the dates"


def test_a_booked_session_that_now_breaks_the_interval_is_named_and_left_for_staff(type_i_plan, clinician):
    plan = type_i_plan(second_after=22)  # within P1's 21-day minimum, short of P3's 28
    s2 = mn(plan, 2)

    hold = safety.hold_decide(
        hold=safety.plan_open_hold(plan), decision=HoldStatus.RECOMPUTED, note="Type VI: P3", by=clinician
    )

    assert any("minimum interval is now 28 days" in why for why in hold.recompute_conflicts)
    s2.refresh_from_db()
    assert s2.status == SessionStatus.BOOKED
    plan.refresh_from_db()
    assert any(w.startswith("Move it:") and "minimum interval" in w for w in plan.warnings)


def test_a_clinician_may_cancel_the_booked_sessions_that_break_the_new_rules(type_i_plan, clinician):
    plan = type_i_plan(second_after=22)
    s2 = mn(plan, 2)

    safety.hold_decide(
        hold=safety.plan_open_hold(plan),
        decision=HoldStatus.RECOMPUTED,
        note="Type VI: P3, rebook session 2",
        by=clinician,
        cancel_conflicting=True,
    )

    s2.refresh_from_db()
    assert s2.status == SessionStatus.CANCELLED
    assert s2.messages.filter(kind="cancellation").exists()


@pytest.mark.parametrize("role", ["aesthetician", "front_desk"])
def test_only_a_clinician_recomputes_a_booked_plan_over_http(type_i_plan, as_user, role, request):
    plan = type_i_plan(second_after=22)
    hold = safety.plan_open_hold(plan)
    url = reverse("plan-hold-decide", args=[plan.pk, hold.pk])
    data = {"decision": HoldStatus.RECOMPUTED, "note": "P3", "cancel_conflicting": "on"}
    assert as_user(request.getfixturevalue(role)).post(url, data).status_code == 403
    plan.refresh_from_db()
    assert plan.is_on_hold and mn(plan, 2).status == SessionStatus.BOOKED


def test_a_clinician_recomputes_a_booked_plan_over_http_and_the_page_names_what_to_move(
    type_i_plan, as_user, clinician
):
    plan = type_i_plan(second_after=22)
    hold = safety.plan_open_hold(plan)
    http = as_user(clinician)
    response = http.post(
        reverse("plan-hold-decide", args=[plan.pk, hold.pk]), {"decision": HoldStatus.RECOMPUTED, "note": "P3"}
    )
    assert response.status_code == 302
    page = http.get(response["Location"]).content.decode()
    assert "Still booked, move it" in page and "minimum interval is now 28 days" in page
    plan.refresh_from_db()
    assert not plan.is_on_hold and plan.protocol.code == "p3-conservative-iv-vi"


def test_a_booked_follow_up_is_kept_not_doubled_and_named_when_the_new_plan_moves_it(
    screened, aesthetician, clinic, clinician
):
    """Everything booked (the demo's Emma Clarke): recompute adds P3's fourth session, keeps the
    booked follow-up instead of adding a second one, and says it must move to follow the new last session."""
    from tests.helpers.safety import book_all

    plan = make_plan_for(screened(fitzpatrick=1), aesthetician)
    book_all(plan, clinic["ana"])
    follow_ups = list(plan.sessions.filter(kind=SessionKind.FOLLOW_UP).values_list("pk", flat=True))
    clients.client_update(client=plan.client, fitzpatrick=6)

    hold = safety.hold_decide(
        hold=safety.plan_open_hold(plan), decision=HoldStatus.RECOMPUTED, note="Type VI: P3", by=clinician
    )

    plan.refresh_from_db()
    assert plan.sessions.filter(kind=SessionKind.MICRONEEDLING).count() == 4
    titles = list(plan.sessions.filter(kind=SessionKind.FOLLOW_UP).values_list("title", flat=True))
    assert len(titles) == len(set(titles)), titles
    assert set(follow_ups) <= set(plan.sessions.values_list("pk", flat=True)), "booked visits stay"
    assert any("Follow-up" in why and "recomputed plan places it" in why for why in hold.recompute_conflicts)
