"""The clinic-wide safety floor, screening that must be answered and recent, and the shipped defaults."""

import dataclasses
import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from plans.planning import (
    FOLLOW_UP,
    OILINESS_TYPES,
    SEVERITIES,
    ClientProfile,
    PlanRequest,
    ProtocolParams,
    ScreeningAnswer,
    exclusion_reasons,
    propose_plan,
)
from plans.safety import CLINIC_FLOOR, is_pih_check, protocol_problems
from tests.engine.protocols import DEFAULTS, P1, P3
from tests.helpers.engine import START, clean_screen, plan, profile

D = Decimal


def days(n):
    return dt.timedelta(days=n)


def test_a_more_specific_protocol_below_the_floor_never_wins_for_type_vi():
    """Reproduced: an admin's VI-only copy of P3 at 1.5 mm, without priming or a PIH check, won."""
    risky = dataclasses.replace(
        P3,
        id=99,
        code="p3-vi-deep",
        name="VI deep",
        fitzpatrick_min=6,
        depth_schedule=(D("1.0"), D("1.25"), D("1.5"), D("1.5")),
        depth_cap_mm=D("1.5"),
        combinations=tuple(c for c in P3.combinations if c.kind not in ("priming", "assessment")),
    )
    result = plan(profile(fitzpatrick=6, severity="severe"), protocols=[*DEFAULTS, risky])

    assert result.protocol.code == P3.code
    assert max(s.depth_mm for s in result.mn_sessions) == D("1.0")
    (excluded,) = [e for e in result.exclusions if e.protocol_code == "p3-vi-deep"]
    reasons = " ".join(excluded.reasons)
    assert "safety floor" in reasons and "IV–VI cap 1 mm" in reasons
    assert "PIH check" in reasons and "priming" in reasons
    assert any(e.topic == "excluded" and "safety floor" in e.factor for e in result.rationale)


def test_a_cap_above_one_and_a_half_mm_is_excluded_whoever_it_is_for():
    deep = dataclasses.replace(P1, code="p1-deep", depth_cap_mm=D("3.0"))

    result = plan(profile(), protocols=[deep])

    assert result.found_no_protocol
    assert any("Maximum depth 1.5 mm" in r and "3 mm" in r for r in result.exclusions[0].reasons)


def test_a_recorded_exception_raises_the_maximum_depth_only():
    deep = dataclasses.replace(P1, code="p1-deep", depth_cap_mm=D("2.0"))
    floor = CLINIC_FLOOR.with_max_depth(D("2.0"), "scar clinic, device cleared to 2.0 mm")

    assert protocol_problems(deep, floor) == []
    dark = dataclasses.replace(deep, fitzpatrick_max=6)
    assert any("IV–VI" in p for p in protocol_problems(dark, floor))


def test_pregnancy_turned_into_a_review_item_breaks_the_floor():
    softened = dataclasses.replace(
        P1,
        contraindications=tuple(
            dataclasses.replace(r, action="review") if r.question_code == "pregnant_or_nursing" else r
            for r in P1.contraindications
        ),
    )
    result = plan(profile(pregnant_or_nursing=ScreeningAnswer(True)), protocols=[softened])

    assert result.found_no_protocol
    assert any("pregnant_or_nursing" in r and "hard stop" in r for r in result.exclusions[0].reasons)


def test_a_protocol_without_the_pregnancy_rule_still_stops_a_pregnant_client():
    bare = dataclasses.replace(
        P1, contraindications=tuple(r for r in P1.contraindications if r.question_code != "pregnant_or_nursing")
    )

    result = plan(profile(pregnant_or_nursing=ScreeningAnswer(True)), protocols=[bare])

    assert result.is_hard_stop and "clinic safety floor" in result.hard_stops[0]


def test_an_unanswered_hard_stop_question_stops_the_plan():
    prof = profile()
    answers = dict(prof.screening)
    del answers["pregnant_or_nursing"]

    result = plan(dataclasses.replace(prof, screening=answers))

    assert result.is_hard_stop
    assert any(h.startswith("Not answered: Are you pregnant") for h in result.hard_stops)
    assert "pregnant_or_nursing" not in [r.question_code for r in result.review_items]


def test_a_screening_older_than_the_clinic_allows_cannot_make_a_plan():
    """Reproduced: a plan was made from a screening dated two years earlier."""
    prof = dataclasses.replace(profile(), screened_on=START - days(730))
    request = PlanRequest(prof, DEFAULTS, START, today=START, screening_max_age_days=183)

    result = propose_plan(request)

    assert result.is_hard_stop and "re-screen" in result.hard_stops[0]
    assert propose_plan(dataclasses.replace(request, profile=dataclasses.replace(prof, screened_on=START))).ok


def test_isotretinoin_tan_and_toxin_within_their_windows_defer_and_need_review():
    for code in ("isotretinoin_past", "tan_or_sunburn", "toxin_or_filler"):
        result = plan(profile(**{code: ScreeningAnswer(True, START - days(3))}))

        assert result.ok and result.earliest_start > START, code
        assert [r.question_code for r in result.review_items] == [code]


def test_planned_toxin_or_filler_is_screened_and_spaced_after_each_session():
    result = plan(profile(toxin_or_filler_planned=ScreeningAnswer(True)))

    assert [r.question_code for r in result.review_items] == ["toxin_or_filler_planned"]
    assert any("no anti-wrinkle injections or filler" in c.subject for c in result.care_schedule if c.phase == "post")


def test_zone_caps_are_data_shown_in_the_rationale_and_snapshot():
    result = plan(profile(fitzpatrick=5))

    assert [(z.zone, z.cap_mm) for z in P3.zones] == [("nose", D("0.5")), ("forehead", D("0.5")), ("cheeks", D("1.5"))]
    zones = [e for e in result.rationale if e.factor == "Per-zone limits"]
    assert zones and "nose at most 0.5 mm" in zones[0].effect and "cheeks at most 1 mm" in zones[0].effect
    assert P3.to_snapshot()["zones"][0] == {"zone": "nose", "cap_mm": "0.5"}


def test_a_snapshot_written_before_zones_and_the_review_still_reads():
    old = P1.to_snapshot()
    del old["zones"], old["review_after_days"]

    params = ProtocolParams.from_snapshot(old)

    assert params.zones == () and params.review_after_days == 0


def test_the_six_month_review_is_a_proposed_visit():
    result = plan(profile())

    last = result.mn_sessions[-1].target
    reviews = [s for s in result.sessions if s.kind == FOLLOW_UP and s.title.startswith("Review")]
    assert [s.target for s in reviews] == [last + days(182)]
    assert result.sessions[-1] == reviews[0]


def test_the_rationale_names_pih_risk_behind_the_dark_skin_cap():
    result = plan(profile(fitzpatrick=6))

    assert any(
        e.topic == "depth" and "PIH risk in Fitzpatrick IV–VI" in e.factor and "Cap 1 mm" in e.effect
        for e in result.rationale
    )


# --- Properties against the shipped defaults ------------------------------------------------


@st.composite
def adult_profiles(draw):
    start = draw(st.dates(dt.date(2025, 1, 1), dt.date(2030, 12, 31)))
    age_days = draw(st.integers(18 * 366, 95 * 365))
    yes = {}
    for code in draw(st.lists(st.sampled_from(["anticoagulants", "pregnant_or_nursing", "diabetes"]), unique=True)):
        yes[code] = ScreeningAnswer(True)
    prof = ClientProfile(
        start - days(age_days),
        draw(st.integers(1, 6)),
        draw(st.sampled_from(OILINESS_TYPES)),
        draw(st.sampled_from(SEVERITIES)),
        clean_screen(**yes),
    )
    return prof, start


@settings(max_examples=50, deadline=None)
@given(adult_profiles())
def test_every_adult_gets_exactly_one_default_protocol_or_a_hard_stop(drawn):
    prof, start = drawn
    age = prof.age_on(start)
    matching = [p for p in DEFAULTS if not exclusion_reasons(p, prof, age)]
    assert len(matching) == 1

    result = plan(prof, start=start)

    assert result.ok or result.is_hard_stop
    if result.ok:
        assert result.protocol == matching[0]


@settings(max_examples=50, deadline=None)
@given(adult_profiles())
def test_no_chosen_protocol_breaks_the_floor_and_dark_skin_gets_its_precautions(drawn):
    prof, start = drawn

    result = plan(prof, start=start)

    if result.protocol is None:
        return
    assert protocol_problems(result.protocol) == []
    assert all(s.depth_mm <= D("1.5") for s in result.mn_sessions)
    if prof.fitzpatrick >= 4 and result.ok:
        assert all(s.depth_mm <= D("1.0") for s in result.mn_sessions)
        assert result.protocol.depth_cap_mm <= D("1.0")
        assert any(is_pih_check(c) for c in result.protocol.combinations)
        assert [s for s in result.sessions if s.combination_id and "PIH" in s.title]
