"""Screening outcomes, protocol choice and its explanation, snapshots."""

import dataclasses
import datetime as dt
import json
from decimal import Decimal

from plans.planning import (
    CombinationParams,
    ProtocolParams,
    ScreeningAnswer,
    add_months,
    choose_protocol,
)
from tests.engine.protocols import DEFAULTS, P1, P2, P3
from tests.helpers.engine import START, plan, profile


def test_a_hard_stop_gives_no_plan_and_says_why():
    result = plan(profile(pregnant_or_nursing=ScreeningAnswer(True)))

    assert result.status == "hard_stop"
    assert not result.sessions
    assert len(result.hard_stops) == 1
    assert "breastfeeding" in result.hard_stops[0] and "SkinPen" in result.hard_stops[0]
    assert any(e.topic == "screening" and "Hard stop" in e.effect for e in result.rationale)


def test_a_review_item_gives_a_plan_that_needs_acknowledgement():
    result = plan(profile(anticoagulants=ScreeningAnswer(True)))

    assert result.ok and result.needs_review
    assert [r.question_code for r in result.review_items] == ["anticoagulants"]
    assert "doctor's approval" in result.review_items[0].explanation
    assert len(result.mn_sessions) == 3


def test_an_unanswered_question_needs_review():
    prof = profile()
    answers = dict(prof.screening)
    del answers["keloid_history"]
    result = plan(dataclasses.replace(prof, screening=answers))

    assert [r.question_code for r in result.review_items] == ["keloid_history"]


def test_isotretinoin_within_six_months_defers_the_start_by_calendar_months():
    last_dose = dt.date(2025, 12, 31)
    result = plan(profile(isotretinoin_past=ScreeningAnswer(True, last_dose)))

    assert result.ok
    assert result.earliest_start == dt.date(2026, 6, 30), "31 Dec + 6 calendar months clamps to 30 Jun"
    assert result.mn_sessions[0].target == result.earliest_start
    assert all(s.earliest >= result.earliest_start for s in result.sessions)
    deferral = [e for e in result.rationale if e.topic == "deferral"]
    assert deferral and "30 Jun 2026" in deferral[0].effect and "isotretinoin" in deferral[0].factor
    assert any("deferred" in w for w in result.warnings)


def test_isotretinoin_long_ago_changes_nothing_but_is_explained():
    result = plan(profile(isotretinoin_past=ScreeningAnswer(True, dt.date(2025, 1, 1))))

    assert result.earliest_start == START
    assert any(e.topic == "screening" and e.effect.startswith("No effect") for e in result.rationale)


def test_the_latest_deferral_wins_when_several_apply():
    result = plan(
        profile(
            tan_or_sunburn=ScreeningAnswer(True, START - dt.timedelta(days=3)),
            toxin_or_filler=ScreeningAnswer(True, START - dt.timedelta(days=1)),
        )
    )

    assert result.earliest_start == START + dt.timedelta(days=13)


def test_a_deferral_with_no_date_becomes_a_review_item():
    result = plan(profile(isotretinoin_past=ScreeningAnswer(True, None)))

    assert result.earliest_start == START
    assert [r.question_code for r in result.review_items] == ["isotretinoin_past"]
    assert "date unknown" in result.review_items[0].text


def test_no_matching_protocol_lists_each_protocol_and_the_criteria_that_excluded_it():
    result = plan(profile(born=dt.date(2009, 1, 1)), min_age=16)

    assert result.status == "no_protocol"
    assert result.age == 17
    assert [e.protocol_code for e in result.exclusions] == sorted(p.code for p in DEFAULTS)
    by_code = {e.protocol_code: e.reasons for e in result.exclusions}
    assert "age 17 is below the protocol's minimum of 18" in by_code["p1-mild-i-iii"]
    assert any("pore concern 'mild'" in r for r in by_code["p2-moderate-severe-i-iii"])
    assert any("Fitzpatrick type II is outside types IV–VI" in r for r in by_code["p3-conservative-iv-vi"])
    assert any("oiliness 'normal'" in r for r in by_code["p4-oily-acne-prone-salicylic"])
    assert any("minimum of 50" in r for r in by_code["p5-mature-dry-sensitive"])


def test_a_client_below_the_clinic_minimum_age_is_stopped():
    result = plan(profile(born=dt.date(2010, 1, 1)))

    assert result.status == "hard_stop"
    assert "minimum age is 18" in result.hard_stops[0]


def test_an_inactive_protocol_is_excluded_and_says_so():
    result = plan(profile(), protocols=[dataclasses.replace(P1, active=False), P2])

    assert result.status == "no_protocol"
    assert "the protocol is inactive" in result.exclusions[0].reasons


def test_the_most_specific_protocol_wins_then_priority_then_code():
    broad = dataclasses.replace(P1, code="broad", priority=1, age_max=None)
    chosen, _, beaten = choose_protocol([broad, P1], profile().__class__(dt.date(1990, 1, 1), 2, "normal", "mild"), 36)
    assert chosen.code == P1.code and [b.code for b in beaten] == ["broad"]

    twin_a = dataclasses.replace(P1, code="b-twin", priority=5)
    twin_b = dataclasses.replace(P1, code="a-twin", priority=5)
    twin_c = dataclasses.replace(P1, code="c-twin", priority=1)
    prof = profile()
    assert choose_protocol([twin_a, twin_b, twin_c], prof, 30)[0].code == "c-twin"
    assert choose_protocol([twin_a, twin_b], prof, 30)[0].code == "a-twin"


def test_a_depth_above_the_cap_is_capped_and_explained():
    deep = dataclasses.replace(P1, depth_schedule=(Decimal("0.5"), Decimal("2.0"), Decimal("1.0")))
    result = plan(profile(), protocols=[deep])

    assert [s.depth_mm for s in result.mn_sessions] == [Decimal("0.5"), Decimal("1.5"), Decimal("1.0")]
    assert any(e.topic == "depth" and "Session 2" in e.factor and "Capped" in e.effect for e in result.rationale)


def test_a_combination_that_cannot_keep_its_distance_is_left_out_with_a_warning():
    tight = dataclasses.replace(
        P1,
        combinations=(
            CombinationParams(9, "Medium peel", "peel", "between", min_days_after_mn=21, min_days_before_mn=21),
        ),
    )
    result = plan(profile(), protocols=[tight], chosen=[9])

    assert not [s for s in result.sessions if s.title.startswith("Medium peel")]
    assert len([w for w in result.warnings if w.startswith("Medium peel")]) == 2
    assert any(e.topic == "combination" and e.effect.startswith("Left out") for e in result.rationale)


def test_an_unknown_combination_choice_is_ignored_with_a_warning():
    result = plan(profile(), chosen=[999])

    assert any("999" in w for w in result.warnings)


def test_the_snapshot_round_trips_through_json_and_has_the_shared_keys():
    for protocol in DEFAULTS:
        snapshot = json.loads(json.dumps(protocol.to_snapshot()))
        assert ProtocolParams.from_snapshot(snapshot) == protocol
    snapshot = P3.to_snapshot()
    for key in [
        "name",
        "code",
        "description",
        "interval_min_days",
        "interval_target_days",
        "interval_max_days",
        "session_count",
        "session_minutes",
        "buffer_minutes",
        "depth_schedule",
        "depth_cap_mm",
        "follow_up_days",
        "reminder_leads",
        "care_notes",
        "combinations",
        "contraindications",
    ]:
        assert key in snapshot
    assert set(snapshot["combinations"][0]) >= {
        "id", "name", "kind", "placement", "after_sessions", "offset_days", "end_offset_days",
        "min_days_after_mn", "min_days_before_mn", "optional", "books_appointment", "duration_minutes",
        "instructions",
    }  # fmt: skip
    assert set(snapshot["care_notes"][0]) == {"id", "phase", "offset_days", "subject", "body"}
    assert set(snapshot["reminder_leads"][0]) == {"hours_before", "include_pre_care"}


def test_add_months_clamps_to_the_end_of_short_months():
    assert add_months(dt.date(2025, 8, 31), 6) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2023, 8, 31), 6) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2025, 11, 15), 3) == dt.date(2026, 2, 15)


def test_the_same_input_gives_the_same_plan():
    prof = profile(fitzpatrick=5, severity="severe", anticoagulants=ScreeningAnswer(True))
    assert plan(prof, chosen=[34]) == plan(prof, chosen=[34])
    assert plan(prof, protocols=list(reversed(DEFAULTS))) == plan(prof)
    assert P3.code in {plan(prof).protocol.code}
