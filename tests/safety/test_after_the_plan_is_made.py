"""Issue #16, through the services: safety is checked after a plan is made, not only on its day.

Each test is one bullet of the issue's "Why", reproduced, and what happens now."""

import datetime as dt
from decimal import Decimal

import pytest

from plans.models import ClinicalOverride, ClinicalRule, HoldStatus, MessageStatus, PlanStatus, SessionStatus
from plans.outbox import kinds
from plans.services import booking, clients, safety
from plans.services import plans as plan_services
from tests.helpers.clock import at
from tests.helpers.plans import plan_to_book
from tests.helpers.records import complete
from tests.helpers.safety import START, TODAY, book_all, check_answers, make_plan_for, mn, no_to_all, record_check


def _code(excinfo) -> str:
    return excinfo.value.code


# --- 2. Change detection ------------------------------------------------------------------------


def test_pregnancy_reported_after_acceptance_holds_the_plan_and_refuses_booking(screened, aesthetician, clinic):
    client = screened()
    plan = make_plan_for(client, aesthetician)

    clients.client_update(client=client, screening=no_to_all(pregnant_or_nursing=None), screened_by=aesthetician)

    plan.refresh_from_db()
    hold = safety.plan_open_hold(plan)
    assert plan.is_on_hold and hold is not None
    assert any("Hard stop" in line and "Pregnancy" in line for line in hold.reasons)
    with pytest.raises(booking.BookingError) as refused:
        booking.series_propose(plan=plan, preferences=booking.scheduling.Preferences())
    assert _code(refused) == "clinical_hold"
    with pytest.raises(booking.BookingError) as refused:
        booking.session_book(session=mn(plan, 1), starts_at=at(START, 10), practitioner=clinic["ana"], by=aesthetician)
    assert _code(refused) == "clinical_hold"
    assert not plan.sessions.filter(status=SessionStatus.BOOKED).exists()


def test_pregnancy_after_booking_refuses_rescheduling_and_completion(booked_plan, aesthetician, frozen_clock):
    plan = booked_plan()
    clients.client_update(client=plan.client, screening=no_to_all(pregnant_or_nursing=None), screened_by=aesthetician)
    s1 = mn(plan, 1)

    with pytest.raises(booking.BookingError) as refused:
        booking.session_reschedule(
            session=s1, starts_at=s1.starts_at + dt.timedelta(days=1), practitioner=s1.practitioner, by=aesthetician
        )
    assert _code(refused) == "clinical_hold"

    frozen_clock.move_to(s1.starts_at + dt.timedelta(minutes=30))
    record_check(s1, by=aesthetician)
    with pytest.raises(booking.BookingError) as refused:
        complete(s1, "0.5", by=aesthetician)
    assert _code(refused) == "clinical_hold"
    s1.refresh_from_db()
    assert s1.status == SessionStatus.BOOKED


def test_fitzpatrick_changed_from_i_to_vi_holds_the_plan_and_names_the_lower_cap(
    booked_plan, aesthetician, frozen_clock
):
    plan = booked_plan(fitzpatrick=1)
    assert plan.params.depth_cap_mm == Decimal("1.5")

    clients.client_update(client=plan.client, fitzpatrick=6)

    hold = safety.plan_open_hold(plan)
    assert hold is not None and "Profile changed: fitzpatrick" in hold.cause
    assert any("would now be chosen" in line and "1.0 mm" in line for line in hold.reasons)
    s1 = mn(plan, 1)
    frozen_clock.move_to(s1.starts_at + dt.timedelta(minutes=30))
    record_check(s1, by=aesthetician)
    with pytest.raises(booking.BookingError) as refused:
        complete(s1, "1.5", by=aesthetician)
    assert _code(refused) == "clinical_hold"


def test_a_change_the_engine_answers_the_same_way_opens_no_hold(booked_plan):
    plan = booked_plan()
    clients.client_update(client=plan.client, phone="+44 7700 900123", date_of_birth=dt.date(1990, 5, 18))
    plan.refresh_from_db()
    assert not plan.is_on_hold and not plan.holds.exists()


def test_a_second_change_adds_to_the_open_hold_instead_of_a_second_one(booked_plan, aesthetician):
    plan = booked_plan(fitzpatrick=1)
    clients.client_update(client=plan.client, fitzpatrick=6)
    clients.client_update(client=plan.client, screening=no_to_all(pregnant_or_nursing=None), screened_by=aesthetician)
    assert plan.holds.count() == 1
    assert any("Pregnancy" in line for line in plan.holds.get().reasons)


# --- 3. Clinician decisions -----------------------------------------------------------------------


def test_only_a_clinician_decides_a_hold_and_stopping_cancels_future_sessions_and_their_emails(
    booked_plan, aesthetician, front_desk, clinician
):
    plan = booked_plan()
    clients.client_update(client=plan.client, screening=no_to_all(pregnant_or_nursing=None), screened_by=aesthetician)
    hold = safety.plan_open_hold(plan)
    for who in (aesthetician, front_desk):
        with pytest.raises(booking.BookingError) as refused:
            safety.hold_decide(hold=hold, decision=HoldStatus.STOPPED, note="Pregnant", by=who)
        assert _code(refused) == "needs_clinician"
    with pytest.raises(booking.BookingError) as refused:
        safety.hold_decide(hold=hold, decision=HoldStatus.CONTINUED, note="She insists", by=clinician)
    assert _code(refused) == "hard_stop"

    safety.hold_decide(
        hold=hold, decision=HoldStatus.STOPPED, note="Pregnant: stop until after breastfeeding", by=clinician
    )

    plan.refresh_from_db()
    assert plan.status == PlanStatus.CANCELLED and not plan.is_on_hold
    assert not plan.sessions.filter(status=SessionStatus.BOOKED).exists()
    messages = [m for s in plan.sessions.all() for m in s.messages.all()]
    still = [m for m in messages if m.status == MessageStatus.PENDING and m.kind != "cancellation"]
    # A series confirmation is cancelled at send time, when none of the sessions it lists stands.
    assert messages and all(m.kind == "confirmation" and kinds.why_not_standing(m, at(TODAY, 9)) for m in still)
    hold.refresh_from_db()
    assert hold.status == HoldStatus.STOPPED and hold.decided_by == clinician


def test_a_clinician_may_continue_a_plan_held_for_a_review_item_and_it_is_not_held_again(
    booked_plan, aesthetician, clinician
):
    plan = booked_plan()
    clients.client_update(client=plan.client, screening=no_to_all(anticoagulants=None), screened_by=aesthetician)
    hold = safety.plan_open_hold(plan)
    assert any("New review item" in line for line in hold.reasons)

    safety.hold_decide(hold=hold, decision=HoldStatus.CONTINUED, note="GP approved apixaban pause", by=clinician)
    clients.client_update(client=plan.client, notes="Prefers mornings", fitzpatrick=2)

    plan.refresh_from_db()
    assert not plan.is_on_hold and plan.holds.count() == 1


def test_review_items_are_signed_off_per_item_by_a_clinician_before_booking(screened, aesthetician, clinician, clinic):
    client = screened(yes={"anticoagulants": None, "herpes_history": None})
    plan = make_plan_for(client, aesthetician)
    codes = {item["question_code"] for item in plan.review_items}
    assert codes >= {"anticoagulants", "herpes_history"} and plan.review_pending
    with pytest.raises(booking.BookingError) as refused:
        booking.series_propose(plan=plan, preferences=booking.scheduling.Preferences())
    assert _code(refused) == "review_pending"
    with pytest.raises(booking.BookingError) as refused:
        safety.review_signoff(plan=plan, question_code="anticoagulants", note="ok", by=aesthetician)
    assert _code(refused) == "needs_clinician"

    safety.review_signoff(
        plan=plan, question_code="herpes_history", note="Antiviral prescribed by Dr Kay", by=clinician
    )
    plan.refresh_from_db()
    assert plan.review_pending  # one item is not enough
    for code in codes - {"herpes_history"}:
        safety.review_signoff(plan=plan, question_code=code, note="GP letter on file", by=clinician)
    plan.refresh_from_db()
    assert not plan.review_pending
    assert plan.review_signoffs.get(question_code="herpes_history").signed_by == clinician
    book_all(plan, clinic["ana"])


def test_a_clinician_creating_the_plan_signs_off_inline_but_an_aesthetician_cannot(screened, aesthetician, clinician):
    client = screened(yes={"anticoagulants": None})
    with pytest.raises(plan_services.PlanRefused, match="Only a clinician"):
        make_plan_for(client, aesthetician, signoffs={"anticoagulants": "I checked"})

    plan = make_plan_for(client, clinician, signoffs={"anticoagulants": "GP approved"})
    assert not plan.review_pending and plan.review_signoffs.get().note == "GP approved"


def test_a_client_never_screened_gets_no_plan(shipped, aesthetician):
    client = clients.client_create(
        first_name="Nia", last_name="Long", date_of_birth=dt.date(1990, 1, 1), fitzpatrick=2, oiliness="normal",
        pore_concern="mild",
    )  # fmt: skip
    with pytest.raises(plan_services.NoScreening):
        make_plan_for(client, aesthetician)


# --- Clinical overrides vs scheduling overrides -----------------------------------------------------


@pytest.fixture
def deferred(screened, aesthetician, clinician):
    """Isotretinoin last taken 2 Oct: the start is deferred to 2 Apr (6 months), and a clinician has
    signed off the review item the same rule raises (defer and review), so only the deferral is left."""
    client = screened(yes={"isotretinoin_past": dt.date(2026, 10, 2)})
    plan = make_plan_for(client, aesthetician, start=dt.date(2027, 2, 8))
    assert plan.earliest_start == dt.date(2027, 4, 2)
    for item in plan.review_items:
        safety.review_signoff(
            plan=plan, question_code=item["question_code"], note="Discussed with the client", by=clinician
        )
    plan.refresh_from_db()
    return plan


@pytest.mark.parametrize("role", ["aesthetician", "front_desk"])
def test_a_deferral_is_not_overridden_by_staff_whatever_the_reason(deferred, clinic, role, request):
    who = request.getfixturevalue(role)
    with pytest.raises(booking.BookingError) as refused:
        booking.session_book(
            session=mn(deferred, 1),
            starts_at=at(dt.date(2027, 3, 1), 10),
            practitioner=clinic["ana"],
            override_reason="client asked",
            by=who,
        )
    assert _code(refused) == "needs_clinician"
    assert not ClinicalOverride.objects.exists()


def test_a_clinician_overrides_a_deferral_with_a_reason_recorded_as_a_clinical_override(deferred, clinic, clinician):
    s1 = mn(deferred, 1)
    with pytest.raises(booking.NeedsOverride):
        booking.session_book(
            session=s1, starts_at=at(dt.date(2027, 3, 1), 10), practitioner=clinic["ana"], by=clinician
        )

    booking.session_book(
        session=s1,
        starts_at=at(dt.date(2027, 3, 1), 10),
        practitioner=clinic["ana"],
        override_reason="Dermatologist letter: 5 months is enough",
        by=clinician,
    )

    override = ClinicalOverride.objects.get()
    assert override.rule == ClinicalRule.DEFERRAL and override.by == clinician and override.session == s1
    assert "deferred start" in override.detail and override.reason.startswith("Dermatologist")


def test_a_peel_inside_its_washout_needs_a_clinician_but_a_window_override_stays_with_staff(
    clinic, aesthetician, clinician
):
    plan = plan_to_book(first_target=dt.date(2027, 2, 8), count=2, peel_after=1)
    s1, peel, s2 = plan.sessions.order_by("sequence")
    booking.session_book(session=s1, starts_at=at(dt.date(2027, 2, 8), 10), practitioner=clinic["ana"], by=aesthetician)

    with pytest.raises(booking.BookingError) as refused:
        booking.session_book(
            session=peel, starts_at=at(dt.date(2027, 2, 11), 10), practitioner=clinic["ana"],
            override_reason="fits her diary", by=aesthetician,
        )  # fmt: skip
    assert _code(refused) == "needs_clinician"

    # Session 2 three days before its window opens: a scheduling matter, staff may override it.
    booking.session_book(
        session=s2, starts_at=at(s2.earliest - dt.timedelta(days=3), 10), practitioner=clinic["ana"],
        override_reason="client travels", by=aesthetician,
    )  # fmt: skip
    s2.refresh_from_db()
    assert s2.status == SessionStatus.BOOKED and s2.window_override_reason == "client travels"
    assert not ClinicalOverride.objects.exists()


def test_a_depth_above_the_planned_depth_needs_a_clinicians_reason(clinic, aesthetician, clinician, frozen_clock):
    plan = plan_to_book(first_target=dt.date(2027, 2, 8), count=1)
    (s1,) = plan.sessions.all()
    booking.session_book(session=s1, starts_at=at(dt.date(2027, 2, 8), 10), practitioner=clinic["ana"], by=aesthetician)
    frozen_clock.move_to(at(dt.date(2027, 2, 8), 10, 30))
    record_check(s1, by=aesthetician)

    for reason in ("", "thick skin"):
        with pytest.raises(booking.BookingError) as refused:
            complete(s1, "1.5", above_plan_reason=reason, by=aesthetician)
        assert _code(refused) == "needs_clinician"

    complete(s1, "1.5", above_plan_reason="Scarring thicker than assessed", by=clinician)
    override = ClinicalOverride.objects.get()
    assert override.rule == ClinicalRule.DEPTH_ABOVE_PLAN and override.by == clinician


# --- 1. The pre-session check -----------------------------------------------------------------------


def test_completion_needs_a_current_pre_session_check(booked_plan, aesthetician, frozen_clock, settings):
    plan = booked_plan()
    s1 = mn(plan, 1)
    frozen_clock.move_to(s1.starts_at + dt.timedelta(minutes=30))
    with pytest.raises(booking.BookingError) as refused:
        complete(s1, "0.5", by=aesthetician)
    assert _code(refused) == "needs_pre_session_check"

    record_check(s1, by=aesthetician)
    settings.PRE_SESSION_CHECK_VALID_DAYS = 7
    frozen_clock.move_to(s1.starts_at + dt.timedelta(days=8))
    with pytest.raises(booking.BookingError) as refused:
        complete(s1, "0.5", by=aesthetician)
    assert _code(refused) == "needs_pre_session_check"

    frozen_clock.move_to(s1.starts_at + dt.timedelta(days=6))
    complete(s1, "0.5", by=aesthetician)


def test_a_cold_sore_at_the_check_holds_the_plan_as_the_screening_would(booked_plan, aesthetician, frozen_clock):
    plan = booked_plan()
    s1 = mn(plan, 1)
    frozen_clock.move_to(s1.starts_at - dt.timedelta(hours=1))

    record_check(s1, by=aesthetician, cold_sore_or_infection="Cold sore on the lip since Monday")

    hold = safety.plan_open_hold(plan)
    assert hold is not None and "Pre-session check" in hold.cause
    assert any(line.startswith("Hard stop") and "infection" in line.lower() for line in hold.reasons)
    frozen_clock.move_to(s1.starts_at + dt.timedelta(minutes=10))
    with pytest.raises(booking.BookingError) as refused:
        complete(s1, "0.5", by=aesthetician)
    assert _code(refused) == "clinical_hold"


def test_a_new_toxin_at_the_check_defers_and_anything_else_needs_review(booked_plan, aesthetician, frozen_clock):
    plan = booked_plan()
    s1 = mn(plan, 1)
    frozen_clock.move_to(s1.starts_at - dt.timedelta(hours=3))
    record_check(s1, by=aesthetician, filler_or_toxin="Botox forehead last week", anything_else="New serum")

    reasons = safety.plan_open_hold(plan).reasons
    assert any("deferred" in line for line in reasons)
    assert any("anything else" in line.lower() and "New serum" in line for line in reasons)


def test_a_check_is_filled_once_and_a_yes_needs_a_detail(booked_plan, aesthetician, frozen_clock):
    plan = booked_plan()
    s1 = mn(plan, 1)
    frozen_clock.move_to(s1.starts_at - dt.timedelta(days=1))  # a check that still counts on the day
    with pytest.raises(safety.ValidationError):
        safety.pre_session_check_record(session=s1, answers=check_answers(recent_tan=""), by=aesthetician)
    answers = check_answers()
    answers["recent_tan"] = (True, "")
    with pytest.raises(safety.ValidationError):
        safety.pre_session_check_record(session=s1, answers=answers, by=aesthetician)
    record_check(s1)
    with pytest.raises(booking.BookingError, match="already recorded"):
        record_check(s1, by=aesthetician)
    assert s1.newest_pre_session_check().via == "client"


def test_the_48h_reminder_of_a_microneedling_session_carries_the_check_link(booked_plan):
    from plans.outbox import kinds

    plan = booked_plan()
    s1 = mn(plan, 1)
    reminder = s1.messages.filter(kind__startswith="reminder:").order_by("send_at").last()
    assert reminder is not None, "P1 sends reminders"
    content = kinds.family_of(reminder).content(reminder, at(TODAY, 9))
    if kinds.reminder_hours(reminder) <= kinds.CHECK_LINK_HOURS:
        assert "/e/check/" in content["check_url"]


def test_a_clinician_recomputes_an_unbooked_held_plan_from_the_clients_new_profile(screened, aesthetician, clinician):
    client = screened(fitzpatrick=1)
    plan = make_plan_for(client, aesthetician)
    clients.client_update(client=client, fitzpatrick=6)
    hold = safety.plan_open_hold(plan)

    safety.hold_decide(hold=hold, decision=HoldStatus.RECOMPUTED, note="Type VI: conservative protocol", by=clinician)

    plan.refresh_from_db()
    assert not plan.is_on_hold and plan.params.depth_cap_mm == Decimal("1.0")
    assert plan.protocol.code == "p3-conservative-iv-vi"


def test_recomputing_a_plan_the_engine_now_refuses_keeps_the_hold_open(screened, aesthetician, clinician):
    client = screened()
    plan = make_plan_for(client, aesthetician)
    clients.client_update(client=client, screening=no_to_all(pregnant_or_nursing=None), screened_by=aesthetician)
    hold = safety.plan_open_hold(plan)
    with pytest.raises(booking.BookingError, match="cannot be recomputed"):
        safety.hold_decide(hold=hold, decision=HoldStatus.RECOMPUTED, note="try", by=clinician)
    hold.refresh_from_db()
    assert hold.is_open


def test_continuing_a_plan_held_for_a_lower_cap_holds_every_depth_to_the_new_cap(
    booked_plan, aesthetician, clinician, frozen_clock
):
    """Fitzpatrick I -> VI on a 1.5 mm plan, continued by a clinician: the sessions stay, the
    1.0 mm cap of type VI comes with them, and going past it needs a clinician's reason."""
    plan = booked_plan(fitzpatrick=1, pore_concern="moderate")
    assert plan.params.depth_cap_mm == Decimal("1.5")
    s2, s3 = mn(plan, 2), mn(plan, 3)
    assert s2.depth_mm == Decimal("1.0") and s3.depth_mm == Decimal("1.25")
    clients.client_update(client=plan.client, fitzpatrick=6)

    safety.hold_decide(
        hold=safety.plan_open_hold(plan),
        decision=HoldStatus.CONTINUED,
        note="Keeps her bookings; needle within the IV-VI cap",
        by=clinician,
    )

    plan.refresh_from_db()
    assert plan.clinical_depth_cap_mm == Decimal("1.0") and plan.depth_cap_mm == Decimal("1.0")
    frozen_clock.move_to(s2.starts_at + dt.timedelta(minutes=30))
    record_check(s2, by=aesthetician)
    complete(s2, "1.0", by=aesthetician)  # at the cap: fine
    frozen_clock.move_to(s3.starts_at + dt.timedelta(minutes=30))
    record_check(s3, by=aesthetician)
    for reason in ("", "as planned"):
        with pytest.raises(booking.BookingError, match="cap is now 1.0 mm") as refused:
            complete(s3, "1.25", above_plan_reason=reason, by=aesthetician)
        assert _code(refused) == "needs_clinician"
    s3.refresh_from_db()
    assert s3.status == SessionStatus.BOOKED and not ClinicalOverride.objects.exists()

    complete(s3, "1.25", above_plan_reason="Test patch at 1.25 mm: no PIH", by=clinician)
    override = ClinicalOverride.objects.get()
    assert override.rule == ClinicalRule.DEPTH_ABOVE_CAP and override.by == clinician


def test_continuing_never_raises_the_cap_and_a_change_without_a_lower_cap_records_none(
    booked_plan, aesthetician, clinician
):
    plan = booked_plan()
    clients.client_update(client=plan.client, screening=no_to_all(anticoagulants=None), screened_by=aesthetician)
    safety.hold_decide(
        hold=safety.plan_open_hold(plan), decision=HoldStatus.CONTINUED, note="GP approved", by=clinician
    )
    plan.refresh_from_db()
    assert plan.clinical_depth_cap_mm is None and plan.depth_cap_mm == plan.params.depth_cap_mm
