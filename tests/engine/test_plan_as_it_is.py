"""A plan as it is: spans and care notes follow the sessions' current dates; new plans start with room for pre-care."""

import dataclasses
import datetime as dt

from plans.planning import (
    LATE_PRE_CARE,
    PlanRequest,
    ScreeningAnswer,
    late_pre_care,
    plan_layout,
    propose_plan,
    suggest_start,
)
from tests.engine.protocols import DEFAULTS, P3
from tests.helpers.engine import START, plan, profile

PAUSE = "Pause retinoids around each session"


def days(n):
    return dt.timedelta(days=n)


def _targets(result):
    return {s.mn_number: s.target for s in result.mn_sessions}


def test_the_layout_of_the_planned_targets_is_the_proposal_itself():
    result = plan(profile(fitzpatrick=5, severity="moderate"))

    layout = plan_layout(result.protocol, result.selected_combinations, _targets(result))

    assert layout.spans == result.spans
    assert layout.care_schedule == result.care_schedule
    assert not layout.problems


def test_moving_session_two_moves_its_pause_and_care_notes_and_cancelling_three_drops_them():
    result = plan(profile(fitzpatrick=5, severity="moderate"))
    dates = _targets(result)
    dates[2] += days(10)
    del dates[3]  # cancelled

    layout = plan_layout(P3, result.selected_combinations, dates)

    pauses = {s.anchor_session: s for s in layout.spans if s.name == PAUSE}
    assert sorted(pauses) == [1, 2, 4]
    assert (pauses[2].start, pauses[2].end) == (dates[2] - days(14), dates[2] + days(7))
    assert {c.mn_number for c in layout.care_schedule} == {1, 2, 4}
    tanning = [c for c in layout.care_schedule if c.mn_number == 2 and c.offset_days == -14]
    assert [c.day for c in tanning] == [dates[2] - days(14)]


def test_a_pause_that_no_longer_keeps_its_distance_is_reported_not_silently_drawn():
    # The shipped pause keeps no distance of its own; a clinic's stricter copy does.
    strict = dataclasses.replace(
        P3,
        combinations=tuple(
            dataclasses.replace(c, min_days_after_mn=3, min_days_before_mn=3) if c.name == PAUSE else c
            for c in P3.combinations
        ),
    )
    result = plan(profile(fitzpatrick=5, severity="moderate"), protocols=[strict])
    dates = _targets(result)
    dates[2] = dates[1] + days(10)  # the pause around 2 now overlaps session 1

    layout = plan_layout(strict, result.selected_combinations, dates)

    assert 2 not in {s.anchor_session for s in layout.spans if s.name == PAUSE}
    assert any(f"{PAUSE} (session 2) no longer fits" in p for p in layout.problems)


def test_pre_care_delivered_in_time_or_of_a_session_that_took_place_is_not_late():
    result = plan(profile())
    care = result.care_schedule
    today = START - days(3)
    late = late_pre_care(care, today)
    assert {c.offset_days for c in late} == {-14, -7}
    assert late_pre_care(care, today, frozenset({(1, c.note_id) for c in late})) == ()


def test_a_new_plan_starts_when_the_14_day_pre_care_can_still_be_followed():
    today = dt.date(2026, 12, 1)
    request = PlanRequest(profile(), DEFAULTS, today, today=today)

    suggestion = suggest_start(request)

    assert suggestion.start == dt.date(2026, 12, 15)
    assert suggestion.reason == "Starts 15 Dec so the 14-day pre-care can be followed."
    at_suggestion = propose_plan(dataclasses.replace(request, requested_start=suggestion.start))
    assert not [w for w in at_suggestion.warnings if w.startswith(LATE_PRE_CARE)]
    assert [w for w in propose_plan(request).warnings if w.startswith(LATE_PRE_CARE)], "today stays possible"


def test_priming_first_already_leaves_room_for_the_pre_care():
    today = dt.date(2026, 12, 1)
    suggestion = suggest_start(PlanRequest(profile(fitzpatrick=5, severity="moderate"), DEFAULTS, today, today=today))

    assert suggestion.start == today and suggestion.reason == ""


def test_a_deferral_ending_soon_still_leaves_the_full_pre_care():
    today = dt.date(2026, 12, 1)
    tanned = profile(tan_or_sunburn=ScreeningAnswer(True, today - days(10)))  # deferred to 5 Dec
    request = PlanRequest(tanned, DEFAULTS, today, today=today)

    suggestion = suggest_start(request)

    first = propose_plan(dataclasses.replace(request, requested_start=suggestion.start)).mn_sessions[0]
    assert first.target == today + days(14)
