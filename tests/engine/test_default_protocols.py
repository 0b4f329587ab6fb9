"""Each proposed default protocol against the profiles it is meant for."""

import datetime as dt
from decimal import Decimal

from plans.planning import COMBINATION, FOLLOW_UP, MICRONEEDLING
from tests.engine.protocols import P3
from tests.helpers.engine import START, plan, profile


def days(n):
    return dt.timedelta(days=n)


def test_fitzpatrick_two_mild_gets_three_monthly_sessions_of_p1_rising_to_one_mm():
    result = plan(profile(fitzpatrick=2, severity="mild"))

    assert result.ok and result.protocol.code == "p1-mild-i-iii"
    mn = result.mn_sessions
    assert [s.target for s in mn] == [START, START + days(28), START + days(56)]
    assert [s.depth_mm for s in mn] == [Decimal("0.5"), Decimal("0.75"), Decimal("1.0")]
    assert (mn[0].earliest, mn[0].latest) == (START, START + days(42 - 21))
    assert (mn[1].earliest, mn[1].latest) == (START + days(21), START + days(42))
    assert [s.title for s in mn] == ["Microneedling 1 of 3", "Microneedling 2 of 3", "Microneedling 3 of 3"]
    assert result.follow_up.target == mn[-1].target + days(84)
    assert not result.review_items and not result.warnings
    topics = {e.topic for e in result.rationale}
    assert {"protocol", "excluded", "interval", "depth", "follow_up"} <= topics


def test_fitzpatrick_five_moderate_gets_conservative_p3_with_priming_first_and_a_pih_check():
    result = plan(profile(fitzpatrick=5, severity="moderate"))

    assert result.protocol.code == "p3-conservative-iv-vi"
    mn = result.mn_sessions
    assert len(mn) == 4
    assert mn[0].target == START + days(28), "four weeks of brightener priming come before session 1"
    assert max(s.depth_mm for s in mn) == Decimal("1.0")
    priming = [s for s in result.spans if s.name == "Priming with a brightener"]
    assert [(s.start, s.end) for s in priming] == [(mn[0].target - days(28), mn[0].target - days(7))]
    pauses = [s for s in result.spans if s.name == "Pause retinoids around each session"]
    assert [p.start for p in pauses] == [s.target - days(14) for s in mn]
    pih = [s for s in result.sessions if s.title.startswith("PIH check")]
    assert len(pih) == 1 and pih[0].earliest == mn[0].target + days(14)
    assert pih[0].latest == mn[0].target + days(28)
    assert not [s for s in result.sessions if "peel" in s.title.lower()], "P3 offers no peel"


def test_p3_priming_runs_from_d_minus_28_to_d_minus_7_and_never_overlaps_the_brightener_pause():
    result = plan(profile(fitzpatrick=6, severity="mild"))

    (priming,) = [s for s in result.spans if s.name == "Priming with a brightener"]
    first_pause = min((s for s in result.spans if s.name.startswith("Pause the brightener")), key=lambda s: s.start)
    session_1 = result.mn_sessions[0].target
    assert (priming.start, priming.end) == (session_1 - days(28), session_1 - days(7))
    assert priming.end <= first_pause.start == session_1 - days(7)


def test_p3_texts_agree_with_its_values_and_sources():
    pause = next(c for c in P3.combinations if c.name == "Pause retinoids around each session")
    assert pause.offset_days == 14
    assert "14 days before in dark skin" in pause.instructions and "peel literature" in pause.instructions
    assert "5-7 days before" not in pause.instructions
    pih = next(c for c in P3.combinations if c.name.startswith("PIH check"))
    assert (pih.offset_days, pih.end_offset_days) == (14, 28)
    assert "placed at 21 days" not in P3.description and "day 14 to day 28" in P3.description


def test_type_iv_is_never_offered_a_salicylic_peel():
    """Arif 2015 reports salicylic acid safe in I-III and V-VI, not IV."""
    result = plan(profile(fitzpatrick=4, oiliness="oily", severity="severe"))

    assert result.protocol.code == "p3-conservative-iv-vi"
    assert not [c for c in result.protocol.combinations if "salicylic" in c.name.lower()]


def test_oily_acne_prone_gets_p4_with_salicylic_peels_at_weeks_two_six_and_ten():
    result = plan(profile(fitzpatrick=3, oiliness="oily", severity="moderate"))

    assert result.protocol.code == "p4-oily-acne-prone-salicylic"
    assert [s.target for s in result.mn_sessions] == [START + days(7 * w) for w in (0, 4, 8, 12)]
    peels = [s.target for s in result.sessions if s.kind == COMBINATION]
    assert peels == [START + days(7 * w) for w in (2, 6, 10)]


def test_sixty_two_year_old_with_dry_skin_gets_p5_and_an_age_note():
    result = plan(profile(born=dt.date(1963, 9, 1), fitzpatrick=2, oiliness="dry", severity="mild"))

    assert result.age == 62
    assert result.protocol.code == "p5-mature-dry-sensitive"
    gaps = [(b.target - a.target).days for a, b in zip(result.mn_sessions, result.mn_sessions[1:], strict=False)]
    assert gaps == [42, 42, 42]
    age_notes = [e for e in result.rationale if e.topic == "age"]
    assert age_notes and "heals more slowly" in age_notes[0].effect
    # P5's own description chooses its longer interval for age: the rationale must not say otherwise.
    assert "chosen for age" in age_notes[0].effect and "unchanged" not in age_notes[0].effect
    assert any(e.source == "p1-mild-i-iii" and "age 62" in e.factor for e in result.rationale)


def test_fitzpatrick_two_moderate_gets_p2_and_the_glycolic_peel_only_when_chosen():
    without = plan(profile(fitzpatrick=2, severity="moderate"))
    with_peel = plan(profile(fitzpatrick=2, severity="moderate"), chosen=[21])

    assert without.protocol.code == with_peel.protocol.code == "p2-moderate-severe-i-iii"
    assert [s.title for s in without.sessions if s.kind == COMBINATION] == [
        "Interim check 4 weeks after the last session after session 5"
    ]
    peels = [s for s in with_peel.sessions if s.title.startswith("Superficial glycolic")]
    assert len(peels) == 4
    # P2's interval is exactly 28 days, so 14 days on each side leaves exactly the midpoint.
    assert all(p.earliest == p.target == p.latest for p in peels)
    assert any(e.topic == "combination" and "glycolic" in e.factor.lower() for e in with_peel.rationale)


def test_sessions_are_numbered_in_date_order_with_the_follow_up_last():
    result = plan(profile(fitzpatrick=3, oiliness="oily", severity="moderate"))

    assert [s.sequence for s in result.sessions] == list(range(1, len(result.sessions) + 1))
    assert [s.target for s in result.sessions] == sorted(s.target for s in result.sessions)
    assert result.sessions[-1].kind == FOLLOW_UP
    assert {s.kind for s in result.sessions} == {MICRONEEDLING, COMBINATION, FOLLOW_UP}


def test_care_notes_are_dated_from_each_session_target():
    result = plan(profile())

    mn = result.mn_sessions
    stop_retinoids = [c for c in result.care_schedule if c.offset_days == -7]
    assert [c.day for c in stop_retinoids] == [s.target - days(7) for s in mn]
    assert len(result.care_schedule) == len(result.protocol.care_notes) * len(mn)


def test_reminders_follow_the_protocol_leads_and_only_microneedling_carries_pre_care():
    result = plan(profile())

    first = [r for r in result.reminders if r.sequence == 1]
    assert [(r.hours_before, r.include_pre_care) for r in first] == [(168, True), (48, False), (24, False)]
    assert first[0].about_day == result.sessions[0].target - days(7)
    follow_up = result.follow_up
    assert not any(r.include_pre_care for r in result.reminders if r.sequence == follow_up.sequence)


def test_pre_care_that_would_already_be_late_is_a_warning():
    import dataclasses

    from plans.planning import PlanRequest, propose_plan
    from tests.engine.protocols import DEFAULTS

    request = PlanRequest(profile(), DEFAULTS, START, today=START - dt.timedelta(days=3))
    result = propose_plan(request)

    late = [w for w in result.warnings if w.startswith("Pre-care already due")]
    assert len(late) == 1 and "protect your skin from the sun (session 1" in late[0]
    assert "anti-inflammatory" not in late[0]
    assert not propose_plan(dataclasses.replace(request, today=START - dt.timedelta(days=14))).warnings
