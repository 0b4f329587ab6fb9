"""Properties that hold for every valid profile, protocol and start date (hypothesis)."""

import dataclasses
import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from plans.planning import (
    AFTER,
    AROUND,
    BEFORE_FIRST,
    BETWEEN,
    COMBINATION,
    MICRONEEDLING,
    OILINESS_TYPES,
    SEVERITIES,
    ClientProfile,
    CombinationParams,
    ContraindicationParams,
    PlanRequest,
    ProtocolParams,
    ScreeningAnswer,
    propose_plan,
)
from plans.safety import Floor

DEPTHS = [Decimal(n) / 4 for n in range(1, 11)]  # 0.25 .. 2.5 mm
DEFER_CODES = ("isotretinoin_past", "tan", "toxin_or_filler")
# These properties are about scheduling any protocol an admin could write, so the generated
# protocols are not held to the clinic's floor; tests/engine/test_safety_floor.py checks the floor.
NO_FLOOR = Floor(max_depth_mm=Decimal("3.0"), dark_types=(), hard_stops=())


@st.composite
def combinations(draw, n_sessions: int):
    count = draw(st.integers(0, 3))
    combos = []
    for i in range(count):
        placement = draw(st.sampled_from([BETWEEN, AFTER, AROUND, BEFORE_FIRST]))
        combos.append(
            CombinationParams(
                id=100 + i,
                name=f"Combo {i}",
                kind=draw(st.sampled_from(["peel", "topical_pause", "priming", "assessment", "other"])),
                placement=placement,
                after_sessions=tuple(draw(st.lists(st.integers(1, n_sessions + 1), max_size=3, unique=True))),
                offset_days=draw(st.integers(0, 40)),
                end_offset_days=draw(st.integers(0, 40)),
                min_days_after_mn=draw(st.integers(0, 30)),
                min_days_before_mn=draw(st.integers(0, 30)),
                optional=draw(st.booleans()),
                books_appointment=draw(st.booleans()),
                duration_minutes=draw(st.integers(10, 90)),
                position=i,
            )
        )
    return tuple(combos)


@st.composite
def protocols(draw, code="catch-all", wide=True):
    n = draw(st.integers(1, 8))
    lo = draw(st.integers(1, 42))
    target = draw(st.integers(lo, lo + 21))
    hi = draw(st.integers(target, target + 28))
    fitz_min = 1 if wide else draw(st.integers(1, 6))
    fitz_max = 6 if wide else draw(st.integers(fitz_min, 6))
    rules = tuple(
        ContraindicationParams(
            code_, "defer", code_, draw(st.integers(1, 12)), draw(st.sampled_from(["days", "weeks", "months"]))
        )
        for code_ in DEFER_CODES
    )
    return ProtocolParams(
        id=draw(st.integers(1, 1000)),
        code=code,
        name=code.title(),
        priority=draw(st.integers(0, 200)),
        fitzpatrick_min=fitz_min,
        fitzpatrick_max=fitz_max,
        age_min=18 if wide else draw(st.integers(18, 70)),
        age_max=None if wide else draw(st.one_of(st.none(), st.integers(70, 99))),
        severities=SEVERITIES if wide else tuple(draw(st.lists(st.sampled_from(SEVERITIES), min_size=1, unique=True))),
        oiliness_types=OILINESS_TYPES
        if wide
        else tuple(draw(st.lists(st.sampled_from(OILINESS_TYPES), min_size=1, unique=True))),
        session_count=n,
        interval_min_days=lo,
        interval_target_days=target,
        interval_max_days=hi,
        depth_schedule=tuple(draw(st.lists(st.sampled_from(DEPTHS), min_size=n, max_size=n))),
        depth_cap_mm=draw(st.sampled_from(DEPTHS[1:8])),
        follow_up_days=draw(st.integers(0, 120)),
        contraindications=rules,
        combinations=draw(combinations(n)),
    )


@st.composite
def requests(draw):
    start = draw(st.dates(dt.date(2024, 1, 1), dt.date(2030, 12, 31)))
    age_days = draw(st.integers(18 * 366, 90 * 365))
    answers = {}
    for code in DEFER_CODES:
        yes = draw(st.booleans())
        last = draw(st.dates(start - dt.timedelta(days=400), start)) if yes else None
        answers[code] = ScreeningAnswer(yes, last)
    profile = ClientProfile(
        date_of_birth=start - dt.timedelta(days=age_days),
        fitzpatrick=draw(st.integers(1, 6)),
        oiliness=draw(st.sampled_from(OILINESS_TYPES)),
        pore_severity=draw(st.sampled_from(SEVERITIES)),
        screening=answers,
    )
    catch_all = draw(protocols())
    others = [draw(protocols(code=f"narrow-{i}", wide=False)) for i in range(draw(st.integers(0, 2)))]
    all_ids = [c.id for p in [catch_all, *others] for c in p.combinations]
    chosen = frozenset(draw(st.lists(st.sampled_from(all_ids), unique=True)) if all_ids else [])
    return PlanRequest(profile, (catch_all, *others), start, chosen, 18, floor=NO_FLOOR)


def _by_id(protocol: ProtocolParams) -> dict[int, CombinationParams]:
    return {c.id: c for c in protocol.combinations}


def _keeps_distance(lo, hi, targets, combo, skip=None):
    for k, t in enumerate(targets, start=1):
        if k == skip:
            continue
        after_ok = (lo - t).days >= combo.min_days_after_mn
        before_ok = (t - hi).days >= combo.min_days_before_mn
        if not (after_ok or before_ok):
            return False
    return True


PROPERTY_SETTINGS = settings(max_examples=50, deadline=None)


@PROPERTY_SETTINGS
@given(requests())
def test_every_plan_keeps_the_protocol_rules(request):
    result = propose_plan(request)
    assert result.status == "ok", "a catch-all protocol with only deferral rules always yields a plan"
    p = result.protocol
    mn = result.mn_sessions

    assert len(mn) == p.session_count
    assert [s.mn_number for s in mn] == list(range(1, p.session_count + 1))
    for a, b in zip(mn, mn[1:], strict=False):
        assert p.interval_min_days <= (b.target - a.target).days <= p.interval_max_days
    for s in result.sessions:
        assert s.earliest <= s.target <= s.latest
        assert s.earliest >= result.earliest_start >= request.requested_start
    for s in mn:
        assert s.depth_mm <= p.depth_cap_mm

    targets = [s.target for s in mn]
    combos = _by_id(p)
    for s in result.sessions:
        if s.kind == COMBINATION:
            assert _keeps_distance(s.earliest, s.latest, targets, combos[s.combination_id])
    for span in result.spans:
        combo = combos[span.combination_id]
        skip = span.anchor_session if combo.placement == AROUND else None
        assert _keeps_distance(span.start, span.end, targets, combo, skip=skip)
        if combo.placement == BEFORE_FIRST:
            assert span.start >= result.earliest_start


@PROPERTY_SETTINGS
@given(requests())
def test_the_rationale_covers_every_adjusted_parameter(request):
    result = propose_plan(request)
    p = result.protocol
    topics = [e.topic for e in result.rationale]

    assert {"protocol", "interval", "depth", "follow_up"} <= set(topics)
    assert topics.count("excluded") == len(result.exclusions)
    excluded = {e.protocol_code for e in result.exclusions}
    choice = next(e for e in result.rationale if e.topic == "protocol")
    for other in request.protocols:
        assert other.code == p.code or other.code in excluded or other.name in choice.effect
    if result.earliest_start > request.requested_start:
        assert "deferral" in topics
    capped = [k for k, d in enumerate(p.depth_schedule, start=1) if d > p.depth_cap_mm]
    for k in capped:
        assert any(e.topic == "depth" and e.factor.startswith(f"Session {k}:") for e in result.rationale)
    included = [c for c in p.combinations if not c.optional or c.id in request.selected_combinations]
    for combo in included:
        assert any(e.topic == "combination" and e.factor.startswith(combo.name) for e in result.rationale)
    for entry in result.rationale:
        assert entry.factor and entry.effect and entry.source


@PROPERTY_SETTINGS
@given(requests())
def test_the_same_input_gives_the_same_plan_whatever_the_protocol_order(request):
    first = propose_plan(request)
    again = propose_plan(request)
    shuffled = propose_plan(dataclasses.replace(request, protocols=tuple(reversed(request.protocols))))

    assert first == again == shuffled


@PROPERTY_SETTINGS
@given(requests(), st.sampled_from(["hard_stop", "review"]))
def test_a_yes_to_a_stopping_or_review_question_is_never_silently_planned(request, action):
    catch_all = request.protocols[0]
    rule = ContraindicationParams("pregnant_or_nursing", action, "pregnant or nursing")
    protocol = dataclasses.replace(catch_all, contraindications=(*catch_all.contraindications, rule))
    screening = {**request.profile.screening, "pregnant_or_nursing": ScreeningAnswer(True)}
    request = dataclasses.replace(
        request, protocols=(protocol,), profile=dataclasses.replace(request.profile, screening=screening)
    )

    result = propose_plan(request)

    if action == "hard_stop":
        assert result.status == "hard_stop" and not result.sessions and result.hard_stops
    else:
        assert result.ok and "pregnant_or_nursing" in {r.question_code for r in result.review_items}
        assert [s for s in result.sessions if s.kind == MICRONEEDLING]
