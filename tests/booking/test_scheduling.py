"""The pure scheduler: availability, whole-series fit, infeasibility reasons, cascade, DST."""

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plans import scheduling as s

LONDON = ZoneInfo("Europe/London")
NINE_TO_FIVE = {d: [(dt.time(9), dt.time(17))] for d in range(5)}


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=LONDON)


def availability(practitioners=None, rooms=None, closures=()):
    return s.Availability(
        tz=LONDON,
        practitioners=practitioners or [s.PractitionerAvailability(1, "Ana", NINE_TO_FIVE)],
        rooms=rooms or [s.RoomAvailability(10, "Room A")],
        clinic_closures=list(closures),
    )


def mn(seq, target, *, spread=3, key=None, minutes=60):
    return s.SessionSpec(
        key=key or seq,
        sequence=seq,
        label=f"Session {seq}",
        kind=s.MICRONEEDLING,
        mn_number=seq,
        earliest=target - dt.timedelta(days=spread),
        target=target,
        latest=target + dt.timedelta(days=spread),
        duration_minutes=minutes,
        buffer_minutes=15,
    )


RULES = s.SeriesRules(interval_min_days=21, interval_max_days=42)
MON = dt.date(2027, 3, 1)  # a Monday


def test_free_slots_fill_working_hours_at_fixed_granularity_and_end_within_hours():
    slots = s.free_slots(availability(), MON, duration_minutes=60, buffer_minutes=15)
    assert slots[0].start == at(MON, 9)
    assert slots[-1].start == at(MON, 16)
    assert len(slots) == 29  # 09:00..16:00 every 15 minutes
    assert s.free_slots(availability(), MON + dt.timedelta(days=5), duration_minutes=60, buffer_minutes=15) == []


def test_busy_interval_blocks_overlapping_starts_including_buffer():
    busy = [s.Interval(at(MON, 10), at(MON, 11, 15))]
    avail = availability(practitioners=[s.PractitionerAvailability(1, "Ana", NINE_TO_FIVE, busy=busy)])
    starts = [x.start for x in s.free_slots(avail, MON, duration_minutes=60, buffer_minutes=15)]
    assert at(MON, 9) not in starts  # its buffer runs to 10:15
    assert at(MON, 8, 45) not in starts
    assert at(MON, 11, 15) in starts
    assert not any(at(MON, 9, 15) <= x < at(MON, 11, 15) for x in starts)


def test_room_busy_and_closures_remove_slots_and_another_room_is_used():
    rooms = [s.RoomAvailability(10, "A", busy=[s.Interval(at(MON, 9), at(MON, 17))]), s.RoomAvailability(11, "B")]
    slots = s.free_slots(availability(rooms=rooms), MON, duration_minutes=60, buffer_minutes=0)
    assert {x.room_id for x in slots} == {11}
    closed = availability(closures=[s.Interval(at(MON, 0), at(MON + dt.timedelta(days=1), 0))])
    assert s.free_slots(closed, MON, duration_minutes=60, buffer_minutes=0) == []


def test_nine_oclock_stays_nine_local_across_both_london_clock_changes():
    after_spring = dt.date(2027, 3, 29)  # Monday after the last Sunday of March 2027
    after_autumn = dt.date(2027, 11, 1)  # Monday after the last Sunday of October 2027
    spring = s.free_slots(availability(), after_spring, duration_minutes=60, buffer_minutes=0)[0]
    autumn = s.free_slots(availability(), after_autumn, duration_minutes=60, buffer_minutes=0)[0]
    assert spring.start.astimezone(LONDON).time() == dt.time(9)
    assert spring.start.astimezone(dt.UTC) == dt.datetime(2027, 3, 29, 8, tzinfo=dt.UTC)  # BST
    assert autumn.start.astimezone(LONDON).time() == dt.time(9)
    assert autumn.start.astimezone(dt.UTC) == dt.datetime(2027, 11, 1, 9, tzinfo=dt.UTC)  # GMT


def test_fit_series_puts_every_session_on_its_target_when_free():
    sessions = [mn(1, MON), mn(2, MON + dt.timedelta(days=28)), mn(3, MON + dt.timedelta(days=56))]
    result = s.fit_series(sessions, placed=[], availability=availability(), rules=RULES)
    assert result.ok
    assert [b.slot.local_date(LONDON) for b in result.bookings] == [x.target for x in sessions]
    assert all(b.slot.start.astimezone(LONDON).time() == dt.time(9) for b in result.bookings)


def test_fit_series_respects_min_interval_after_previous_booked_session():
    # Session 1 happened late, so session 2 cannot be on its target.
    placed = [s.Placed(1, s.MICRONEEDLING, at(MON + dt.timedelta(days=10), 9), at(MON + dt.timedelta(days=10), 10))]
    second = mn(2, MON + dt.timedelta(days=28), spread=7)
    result = s.fit_series([second], placed=placed, availability=availability(), rules=RULES)
    assert result.ok
    assert result.bookings[0].slot.local_date(LONDON) == MON + dt.timedelta(days=31)


def test_infeasible_series_names_the_session_and_the_nearest_later_slot():
    third_target = dt.date(2027, 3, 19)
    busy = [s.Interval(at(dt.date(2027, 3, 12), 0), at(dt.date(2027, 3, 27), 0))]
    avail = availability(practitioners=[s.PractitionerAvailability(1, "Ana", NINE_TO_FIVE, busy=busy)])
    third = s.SessionSpec(
        3, 3, "Session 3", s.MICRONEEDLING, dt.date(2027, 3, 12), third_target, dt.date(2027, 3, 26), 60
    )
    result = s.fit_series([third], placed=[], availability=avail, rules=RULES, preferences=s.Preferences(1))
    assert not result.ok and result.bookings == []
    assert result.problem.session_key == 3
    assert result.problem.reason.startswith("Session 3: Ana fully booked or away 12–26 March")
    assert "nearest slot 29 March is after the latest date 26 March" in result.problem.reason
    assert result.problem.nearest[0].local_date(LONDON) == dt.date(2027, 3, 29)


def test_no_partial_series_when_the_last_session_cannot_fit():
    sessions = [mn(1, MON), mn(2, MON + dt.timedelta(days=28))]
    busy = [s.Interval(at(MON + dt.timedelta(days=20), 0), at(MON + dt.timedelta(days=40), 0))]
    avail = availability(practitioners=[s.PractitionerAvailability(1, "Ana", NINE_TO_FIVE, busy=busy)])
    result = s.fit_series(sessions, placed=[], availability=avail, rules=RULES)
    assert result.bookings == []
    assert result.problem.label == "Session 2"


def test_search_backtracks_when_the_first_choice_makes_the_next_session_impossible():
    # Session 1's target Monday is free, but then session 2 (>= 21 days later) only fits
    # if session 1 is no later than the Friday before: 2's window ends on day 24 and
    # days 22-24 are busy, so session 2 must be on day 21 and session 1 on day 0 or earlier.
    first = s.SessionSpec(
        1,
        1,
        "Session 1",
        s.MICRONEEDLING,
        MON - dt.timedelta(days=3),
        MON + dt.timedelta(days=1),
        MON + dt.timedelta(days=3),
        60,
    )
    second = s.SessionSpec(
        2,
        2,
        "Session 2",
        s.MICRONEEDLING,
        MON + dt.timedelta(days=21),
        MON + dt.timedelta(days=22),
        MON + dt.timedelta(days=24),
        60,
    )
    busy = [s.Interval(at(MON + dt.timedelta(days=22), 0), at(MON + dt.timedelta(days=25), 0))]
    avail = availability(practitioners=[s.PractitionerAvailability(1, "Ana", NINE_TO_FIVE, busy=busy)])
    result = s.fit_series([first, second], placed=[], availability=avail, rules=RULES)
    assert result.ok
    d1, d2 = (b.slot.local_date(LONDON) for b in result.bookings)
    assert d2 == MON + dt.timedelta(days=21)
    assert (d2 - d1).days >= 21 and d1 <= MON


def test_combination_session_keeps_washout_from_microneedling_on_both_sides():
    first = mn(1, MON)
    peel = s.SessionSpec(
        2,
        2,
        "Session 2 (peel)",
        s.COMBINATION,
        MON + dt.timedelta(days=1),
        MON + dt.timedelta(days=3),
        MON + dt.timedelta(days=20),
        30,
        min_days_after_mn=7,
        min_days_before_mn=7,
    )
    second = mn(3, MON + dt.timedelta(days=21), spread=7)
    result = s.fit_series([first, peel, second], placed=[], availability=availability(), rules=RULES)
    assert result.ok
    d1, dp, d2 = (b.slot.local_date(LONDON) for b in result.bookings)
    assert (dp - d1).days >= 7 and (d2 - dp).days >= 7


def test_preferred_weekday_and_afternoon_are_used_when_possible_and_relaxed_otherwise():
    prefs = s.Preferences(weekdays=frozenset({3}), part_of_day="afternoon")
    result = s.fit_series([mn(1, MON)], placed=[], availability=availability(), rules=RULES, preferences=prefs)
    local = result.bookings[0].slot.start.astimezone(LONDON)
    assert local.weekday() == 3 and local.hour >= 12 and not result.preferences_relaxed
    saturday = s.Preferences(weekdays=frozenset({5}))
    relaxed = s.fit_series([mn(1, MON)], placed=[], availability=availability(), rules=RULES, preferences=saturday)
    assert relaxed.ok and relaxed.preferences_relaxed


def _schedule(days, *, spread=7):
    items = []
    for i, offset in enumerate(days, start=1):
        start = at(MON + dt.timedelta(days=offset), 9)
        spec = mn(i, MON + dt.timedelta(days=28 * (i - 1)), spread=spread)
        items.append(s.Scheduled(spec, start, start + dt.timedelta(minutes=75), 1, 10))
    return items


def test_rescheduling_session_two_later_moves_session_three_only_as_needed():
    schedule = _schedule([0, 28, 56])
    new_day = MON + dt.timedelta(days=38)
    new = s.Slot(1, 10, at(new_day, 9), at(new_day, 10), at(new_day, 10, 15))
    shifts = s.cascade(schedule, moved_key=2, new_slot=new, availability=availability(), rules=RULES)
    assert len(shifts) == 1
    assert shifts[0].session_key == 3
    assert shifts[0].new_slot.local_date(LONDON) == new_day + dt.timedelta(days=21)  # 59: exactly the minimum
    assert shifts[0].new_slot.start.astimezone(LONDON).time() == dt.time(9)
    assert not shifts[0].outside_window


def test_rescheduling_session_two_slightly_later_needs_no_shift():
    schedule = _schedule([0, 28, 56])
    new_day = MON + dt.timedelta(days=31)
    new = s.Slot(1, 10, at(new_day, 9), at(new_day, 10), at(new_day, 10, 15))
    assert s.cascade(schedule, moved_key=2, new_slot=new, availability=availability(), rules=RULES) == []


def test_cascade_flags_a_shift_past_the_latest_date():
    schedule = _schedule([0, 28, 56], spread=3)
    new_day = MON + dt.timedelta(days=42)
    new = s.Slot(1, 10, at(new_day, 9), at(new_day, 10), at(new_day, 10, 15))
    shifts = s.cascade(schedule, moved_key=2, new_slot=new, availability=availability(), rules=RULES)
    assert shifts[0].outside_window
    assert "at least 21 days after the previous session" in shifts[0].reason


# --- Property tests -------------------------------------------------------------------

hours = st.sampled_from([[(dt.time(9), dt.time(13))], [(dt.time(9), dt.time(17))], [(dt.time(13), dt.time(19))], []])


@st.composite
def worlds(draw):
    n_prac = draw(st.integers(1, 2))
    practitioners = []
    for pid in range(1, n_prac + 1):
        weekly = {d: draw(hours) for d in range(7)}
        busy = []
        for _ in range(draw(st.integers(0, 12))):
            day = MON + dt.timedelta(days=draw(st.integers(0, 100)))
            start = at(day, draw(st.integers(8, 17)), draw(st.sampled_from([0, 15, 30, 45])))
            busy.append(s.Interval(start, start + dt.timedelta(minutes=draw(st.sampled_from([30, 60, 240, 1440])))))
        off = []
        if draw(st.booleans()):
            day = MON + dt.timedelta(days=draw(st.integers(0, 100)))
            off.append(s.Interval(at(day, 0), at(day + dt.timedelta(days=draw(st.integers(1, 10))), 0)))
        practitioners.append(s.PractitionerAvailability(pid, f"P{pid}", weekly, off, busy))
    rooms = [s.RoomAvailability(10, "A"), s.RoomAvailability(11, "B")][: draw(st.integers(1, 2))]
    closures = []
    if draw(st.booleans()):
        day = MON + dt.timedelta(days=draw(st.integers(0, 100)))
        closures.append(s.Interval(at(day, 0), at(day + dt.timedelta(days=draw(st.integers(1, 5))), 0)))
    avail = s.Availability(LONDON, practitioners, rooms, closures)
    count = draw(st.integers(1, 4))
    lo = draw(st.integers(7, 28))
    rules = s.SeriesRules(lo, lo + draw(st.integers(0, 21)))
    sessions = []
    seq = 1
    for i in range(count):
        target = MON + dt.timedelta(days=i * (lo + 3))
        spread = draw(st.integers(1, 7))
        sessions.append(mn(seq, target, spread=spread))
        seq += 1
        if i < count - 1 and draw(st.booleans()):
            sessions.append(
                s.SessionSpec(
                    seq,
                    seq,
                    f"Session {seq}",
                    s.COMBINATION,
                    target + dt.timedelta(days=1),
                    target + dt.timedelta(days=5),
                    target + dt.timedelta(days=lo),
                    30,
                    min_days_after_mn=draw(st.integers(0, 5)),
                    min_days_before_mn=draw(st.integers(0, 5)),
                )
            )
            seq += 1
    prefs = s.Preferences(practitioner_id=draw(st.sampled_from([None, 1])))
    return avail, rules, sessions, prefs


def _working(avail, slot):
    local_start = slot.start.astimezone(LONDON)
    local_end = slot.end.astimezone(LONDON)
    blocks = avail.practitioner(slot.practitioner_id).weekly_hours.get(local_start.weekday(), [])
    return local_start.date() == local_end.date() and any(
        a <= local_start.time() and local_end.time() <= b for a, b in blocks
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_every_proposed_booking_keeps_hours_bookings_closures_windows_intervals_and_washouts(world):
    avail, rules, sessions, prefs = world
    result = s.fit_series(sessions, placed=[], availability=avail, rules=rules, preferences=prefs)
    if not result.ok:
        assert result.bookings == []
        assert result.problem.session_key in {x.key for x in sessions}
        assert result.problem.reason.startswith(result.problem.label + ":")
        return
    assert [b.session_key for b in result.bookings] == [x.key for x in sessions]
    by_key = {x.key: x for x in sessions}
    spans = []
    for b in result.bookings:
        spec, slot = by_key[b.session_key], b.slot
        assert _working(avail, slot)
        assert spec.earliest <= slot.local_date(LONDON) <= spec.latest
        if prefs.practitioner_id:
            assert slot.practitioner_id == prefs.practitioner_id
        prac = avail.practitioner(slot.practitioner_id)
        room = next(r for r in avail.rooms if r.id == slot.room_id)
        for i in [*prac.busy, *prac.time_off, *room.busy, *room.closures, *avail.clinic_closures]:
            assert not i.overlaps(slot.start, slot.blocked_until)
        for other_p, other_r, a, z in spans:
            if other_p == slot.practitioner_id or other_r == slot.room_id:
                assert not (a < slot.blocked_until and slot.start < z)
        spans.append((slot.practitioner_id, slot.room_id, slot.start, slot.blocked_until))
    days = {b.session_key: b.slot.local_date(LONDON) for b in result.bookings}
    mns = [x for x in sessions if x.kind == s.MICRONEEDLING]
    for a, b in zip(mns, mns[1:], strict=False):
        assert rules.interval_min_days <= (days[b.key] - days[a.key]).days <= rules.interval_max_days
    for c in (x for x in sessions if x.kind == s.COMBINATION):
        for m in mns:
            if m.sequence < c.sequence:
                assert (days[c.key] - days[m.key]).days >= c.min_days_after_mn
            else:
                assert (days[m.key] - days[c.key]).days >= c.min_days_before_mn


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.integers(0, 4))
def test_a_fit_on_some_days_read_is_the_fit_on_all_days_unless_it_asks_for_more(world, radius):
    avail, rules, sessions, prefs = world
    full = s.fit_series(sessions, placed=[], availability=avail, rules=rules, preferences=prefs)
    near = dt.timedelta(days=radius)
    loaded = tuple((x.target - near, x.target + near) for x in sessions)
    try:
        part = s.fit_series(
            sessions, placed=[], availability=replace(avail, loaded=loaded), rules=rules, preferences=prefs
        )
    except s.DayNotLoaded as missing:
        assert not any(a <= missing.day <= b for a, b in loaded)
        return
    assert part == full


def test_moving_the_first_session_later_pushes_the_peel_then_the_next_session_for_their_washouts():
    peel = s.SessionSpec(
        2,
        2,
        "Session 2 (peel)",
        s.COMBINATION,
        MON + dt.timedelta(days=7),
        MON + dt.timedelta(days=14),
        MON + dt.timedelta(days=21),
        30,
        min_days_after_mn=7,
        min_days_before_mn=7,
    )
    specs = [mn(1, MON), peel, mn(3, MON + dt.timedelta(days=28), spread=7)]
    starts = [at(MON, 9), at(MON + dt.timedelta(days=8), 9), at(MON + dt.timedelta(days=28), 9)]
    schedule = [s.Scheduled(x, t, t + dt.timedelta(minutes=75), 1, 10) for x, t in zip(specs, starts, strict=True)]
    new_day = MON + dt.timedelta(days=3)
    new = s.Slot(1, 10, at(new_day, 9), at(new_day, 10), at(new_day, 10, 15))
    shifts = s.cascade(schedule, moved_key=1, new_slot=new, availability=availability(), rules=RULES)
    # The peel must be 7 days after the new day 3 (day 10); session 3 stays (day 28 >= 10 + 7 and >= 3 + 21).
    assert [(x.session_key, x.new_slot.local_date(LONDON)) for x in shifts] == [(2, MON + dt.timedelta(days=10))]
    assert "washout" in shifts[0].reason


def test_an_impossible_long_series_is_explained_without_exhausting_the_search():
    sessions = [mn(i, MON + dt.timedelta(days=28 * (i - 1)), spread=7) for i in range(1, 7)]
    five, six = sessions[4], sessions[5]
    # Each session alone has free days, but together they cannot fit: session 5 is free only
    # on its latest day and session 6 only on its earliest, 14 days apart (the minimum is 21).
    away = [
        s.Interval(at(five.earliest - dt.timedelta(days=3), 0), at(five.latest, 0)),
        s.Interval(at(six.earliest + dt.timedelta(days=1), 0), at(six.latest + dt.timedelta(days=30), 0)),
    ]
    every_day = {d: [(dt.time(9), dt.time(17))] for d in range(7)}
    avail = availability(practitioners=[s.PractitionerAvailability(1, "Ana", every_day, time_off=away)])
    result = s.fit_series(sessions, placed=[], availability=avail, rules=RULES, budget=2000)
    # Dead ends are remembered, so 2,000 tries prove session 6 cannot fit (without: ~15^5).
    assert result.problem.label == "Session 6"
    assert "search limit" not in result.problem.reason
    assert "Ana fully booked or away" not in result.problem.reason  # no preference: any practitioner
    assert "every practitioner or room fully booked or away" in result.problem.reason


def test_a_session_whose_window_has_no_working_day_fails_before_any_combination_is_tried():
    # Like a one-day check window that falls on a Sunday, after five sessions with wide windows.
    sessions = [mn(i, MON + dt.timedelta(days=28 * (i - 1)), spread=7) for i in range(1, 6)]
    sunday = MON + dt.timedelta(days=28 * 5 - 1)
    check = s.SessionSpec(6, 6, "Session 6 (check)", s.COMBINATION, sunday, sunday, sunday, 15)
    # A budget of one try would end any search with "search limit reached": the answer
    # comes from checking each session on its own first.
    result = s.fit_series([*sessions, check], placed=[], availability=availability(), rules=RULES, budget=1)
    assert result.bookings == []
    assert result.problem.label == "Session 6 (check)"
    assert result.problem.reason.startswith(f"Session 6 (check): no practitioner works on {s.fmt_day(sunday)}")
    assert "search limit" not in result.problem.reason
    assert result.problem.nearest[0].local_date(LONDON) == sunday + dt.timedelta(days=1)


def test_refitting_a_session_between_booked_ones_keeps_the_later_sessions_interval():
    # Session 2 was cancelled; sessions 1 and 3 stay booked, 49 days apart. Session 2's own
    # window (days 21-42) allows day 21, but session 3 needs it at least 21 days earlier.
    placed = [
        s.Placed(1, s.MICRONEEDLING, at(MON, 9), at(MON, 10, 15)),
        s.Placed(3, s.MICRONEEDLING, at(MON + dt.timedelta(days=49), 9), at(MON + dt.timedelta(days=49), 10, 15)),
    ]
    second = mn(2, MON + dt.timedelta(days=31), spread=10)
    result = s.fit_series([second], placed=placed, availability=availability(), rules=RULES)
    assert result.ok
    day = result.bookings[0].slot.local_date(LONDON)
    assert (day - MON).days >= 21 and (MON + dt.timedelta(days=49) - day).days >= 21
    assert day == MON + dt.timedelta(days=28)  # the closest to the target (day 31) that keeps both


def test_fit_restricted_to_several_practitioners_uses_only_them():
    cy = s.PractitionerAvailability(3, "Cy", NINE_TO_FIVE)
    busy_ana = [s.Interval(at(MON, 0), at(MON + dt.timedelta(days=7), 0))]
    practitioners = [
        s.PractitionerAvailability(1, "Ana", NINE_TO_FIVE, busy=busy_ana),
        s.PractitionerAvailability(2, "Ben", {}),
        cy,
    ]
    rooms = [s.RoomAvailability(10, "A"), s.RoomAvailability(11, "B")]
    avail = availability(practitioners=practitioners, rooms=rooms)
    prefs = s.Preferences(practitioner_ids=frozenset({1, 2}))
    result = s.fit_series([mn(1, MON, spread=2)], placed=[], availability=avail, rules=RULES, preferences=prefs)
    # Cy is free on the target but not allowed; Ben never works; Ana is away until day 7.
    assert not result.ok
    assert result.problem.reason.startswith("Session 1: Ana and Ben all fully booked or away")
    wider = s.fit_series([mn(1, MON, spread=7)], placed=[], availability=avail, rules=RULES, preferences=prefs)
    assert wider.ok and wider.bookings[0].slot.practitioner_id == 1


def test_a_fit_asks_for_days_whose_bookings_were_not_read_instead_of_taking_them_as_free():
    avail = s.Availability(
        LONDON,
        [s.PractitionerAvailability(1, "Ana", NINE_TO_FIVE)],
        [s.RoomAvailability(10, "A")],
        loaded=((MON + dt.timedelta(days=1), MON + dt.timedelta(days=3)),),
    )
    near = s.fit_series([mn(1, MON + dt.timedelta(days=2))], placed=[], availability=avail, rules=RULES)
    assert near.ok and near.bookings[0].slot.local_date(LONDON) == MON + dt.timedelta(days=2)
    with pytest.raises(s.DayNotLoaded) as missing:
        s.fit_series([mn(1, MON)], placed=[], availability=avail, rules=RULES)
    assert missing.value.day == MON
