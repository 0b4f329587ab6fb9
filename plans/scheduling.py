"""Fitting sessions into real availability: pure Python on plain data, no ORM.

Everything here takes aware datetimes (any zone) and the clinic's zone. Weekly working
hours are wall-clock times in the clinic's zone and are converted to instants per date,
so a daylight-saving change never moves a 09:00 slot. Intervals between sessions are
counted in clinic-local calendar days, the way staff and clients count them.

The services layer (plans/services/booking.py) reads the database into these
dataclasses, calls `fit_series` / `cascade` / `free_slots`, and writes the result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from zoneinfo import ZoneInfo

GRANULARITY_MINUTES = 15
# Bounds the backtracking search: enough to undo a few bad early choices in a
# 3-8 session plan, small enough that an impossible plan answers in well under a second.
SEARCH_BUDGET = 4000
# Intervals longer than this (a closure "until now", a month's leave) are checked on every
# day instead of being filed under each date they cover.
LONG_INTERVAL = dt.timedelta(days=3)
# How far past a window we look for "nearest options" when a session cannot fit.
NEAREST_SEARCH_DAYS = 45

MICRONEEDLING = "microneedling"
COMBINATION = "combination"
FOLLOW_UP = "follow_up"

MORNING_END = dt.time(12, 0)


# --- Plain data in ----------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A half-open span of time [start, end)."""

    start: dt.datetime
    end: dt.datetime

    def overlaps(self, start: dt.datetime, end: dt.datetime) -> bool:
        return self.start < end and start < self.end


@dataclass(frozen=True)
class PractitionerAvailability:
    id: int
    name: str
    # weekday (0 = Monday) -> list of (start, end) wall-clock times in the clinic zone
    weekly_hours: dict[int, list[tuple[dt.time, dt.time]]]
    time_off: list[Interval] = field(default_factory=list)
    busy: list[Interval] = field(default_factory=list)


@dataclass(frozen=True)
class RoomAvailability:
    id: int
    name: str
    closures: list[Interval] = field(default_factory=list)
    busy: list[Interval] = field(default_factory=list)


class DayNotLoaded(Exception):  # noqa: N818 - a signal to the caller, not an error
    """The fit needs a day whose bookings the caller did not read: read it and fit again."""

    def __init__(self, day: dt.date):
        self.day = day
        super().__init__(f"bookings of {day} were not read")


@dataclass(frozen=True)
class Availability:
    tz: ZoneInfo
    practitioners: list[PractitionerAvailability]
    rooms: list[RoomAvailability]
    clinic_closures: list[Interval] = field(default_factory=list)
    granularity_minutes: int = GRANULARITY_MINUTES
    # Clinic-local date ranges whose bookings are in `busy` (None: every date). Asking for a
    # free slot on another working day raises DayNotLoaded, so a caller can read a few days
    # first and more only when the search or an explanation really goes there.
    loaded: tuple[tuple[dt.date, dt.date], ...] | None = None

    def is_loaded(self, day: dt.date) -> bool:
        return self.loaded is None or any(a <= day <= b for a, b in self.loaded)

    def practitioner(self, practitioner_id: int) -> PractitionerAvailability:
        return next(p for p in self.practitioners if p.id == practitioner_id)

    @cached_property
    def _index(self) -> _DayIndex:
        # Built once per Availability; a search keeps one Availability and passes its own
        # tentative bookings as `extra`, so the index and its per-day lists are reused.
        return _DayIndex(self)

    def with_busy(self, practitioner_id: int, room_id: int, span: Interval) -> Availability:
        """A copy with one more booking (the cascade; a search passes its own as `extra` instead)."""
        return replace(
            self,
            practitioners=[
                replace(p, busy=[*p.busy, span]) if p.id == practitioner_id else p for p in self.practitioners
            ],
            rooms=[replace(r, busy=[*r.busy, span]) if r.id == room_id else r for r in self.rooms],
        )


@dataclass(frozen=True)
class SessionSpec:
    """One unbooked session of a plan, as the search sees it."""

    key: int  # the PlanSession id (or any stable id in tests)
    sequence: int
    label: str  # e.g. "Session 3 (Microneedling 3 of 4)"
    kind: str
    earliest: dt.date
    target: dt.date
    latest: dt.date
    duration_minutes: int
    buffer_minutes: int = 0
    mn_number: int | None = None
    min_days_after_mn: int = 0
    min_days_before_mn: int = 0


@dataclass(frozen=True)
class Placed:
    """A session of the same plan that already has a time (booked, completed, or just proposed)."""

    sequence: int
    kind: str
    start: dt.datetime
    blocked_until: dt.datetime
    min_days_after_mn: int = 0
    min_days_before_mn: int = 0


@dataclass(frozen=True)
class SeriesRules:
    interval_min_days: int
    interval_max_days: int


@dataclass(frozen=True)
class Preferences:
    practitioner_id: int | None = None  # None: any practitioner (or one of practitioner_ids)
    weekdays: frozenset[int] = frozenset()  # empty: any day
    part_of_day: str = "any"  # "any", "morning" (starts before 12:00) or "afternoon"
    practitioner_ids: frozenset[int] = frozenset()  # several allowed; ignored when practitioner_id is set

    def allowed_practitioners(self) -> list[int] | None:
        """The practitioners a fit may use, or None for any."""
        if self.practitioner_id is not None:
            return [self.practitioner_id]
        return sorted(self.practitioner_ids) or None


# --- Plain data out ---------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    practitioner_id: int
    room_id: int
    start: dt.datetime
    end: dt.datetime
    blocked_until: dt.datetime

    def local_date(self, tz: ZoneInfo) -> dt.date:
        return self.start.astimezone(tz).date()


@dataclass(frozen=True)
class ProposedBooking:
    session_key: int
    label: str
    slot: Slot


@dataclass(frozen=True)
class Infeasible:
    session_key: int
    label: str
    reason: str
    nearest: list[Slot]


@dataclass(frozen=True)
class FitResult:
    bookings: list[ProposedBooking]
    problem: Infeasible | None = None
    preferences_relaxed: bool = False

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class Shift:
    session_key: int
    label: str
    old_start: dt.datetime
    new_slot: Slot | None  # None: no free slot found near the needed date
    reason: str
    outside_window: bool


# --- Time helpers -----------------------------------------------------------------------


def local_instant(day: dt.date, wall: dt.time, tz: ZoneInfo) -> dt.datetime:
    """The instant `wall` o'clock happens on `day` in `tz` (as UTC).

    A wall time skipped by a spring-forward change has no instant; `fold=0` gives the
    pre-transition offset, i.e. the hour after the gap, which is what a clock on the wall shows.
    """
    return dt.datetime.combine(day, wall, tzinfo=tz).astimezone(dt.UTC)


def local_date(moment: dt.datetime, tz: ZoneInfo) -> dt.date:
    return moment.astimezone(tz).date()


def daterange(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def fmt_day(day: dt.date) -> str:
    return f"{day.day} {day:%B}"


def fmt_span(first: dt.date, last: dt.date) -> str:
    if first == last:
        return fmt_day(first)
    if first.month == last.month:
        return f"{first.day}–{last.day} {last:%B}"
    return f"{fmt_day(first)}–{fmt_day(last)}"


# --- Unavailable time, for the calendar to shade --------------------------------------


@dataclass(frozen=True)
class Closed:
    """A span in which a practitioner (or room) cannot be booked, and why, for staff."""

    resource: str  # "p<id>", "r<id>", or "*" for everyone
    span: Interval
    kind: str  # "hours", "time_off", "room", "clinic"
    reason: str


def _outside_hours(p: PractitionerAvailability, day: dt.date, tz: ZoneInfo) -> Iterator[Interval]:
    """The parts of a clinic-local day outside the practitioner's working hours."""
    cursor = local_instant(day, dt.time(), tz)
    for start, end in sorted(p.weekly_hours.get(day.weekday(), [])):
        opens = local_instant(day, start, tz)
        if opens > cursor:
            yield Interval(cursor, opens)
        cursor = max(cursor, local_instant(day, end, tz))
    midnight = local_instant(day + dt.timedelta(days=1), dt.time(), tz)
    if midnight > cursor:
        yield Interval(cursor, midnight)


def closed_spans(availability: Availability, first: dt.date, last: dt.date) -> list[Closed]:
    """Everything that makes a slot between `first` and `last` (clinic-local days) unbookable
    before any booking does: hours not worked, time off, room and clinic closures."""
    tz = availability.tz
    out: list[Closed] = []
    for p in availability.practitioners:
        key = f"p{p.id}"
        for day in daterange(first, last):
            out += [Closed(key, span, "hours", "Not working") for span in _outside_hours(p, day, tz)]
        out += [Closed(key, span, "time_off", "Time off") for span in p.time_off]
    for r in availability.rooms:
        out += [Closed(f"r{r.id}", span, "room", "Room closed") for span in r.closures]
    out += [Closed("*", span, "clinic", "Clinic closed") for span in availability.clinic_closures]
    return out


# --- Free slots -------------------------------------------------------------------------

# A booking not yet in the availability: (practitioner id, room id, span). A search passes
# its own tentative placements this way instead of copying the availability per step.
Taken = tuple[int, int, Interval]


def _clear(intervals: Iterable[Interval], start: dt.datetime, end: dt.datetime) -> bool:
    return not any(i.overlaps(start, end) for i in intervals)


def _utc_day(moment: dt.datetime) -> int:
    return moment.astimezone(dt.UTC).toordinal()


class _Filed:
    """Intervals filed under each UTC date they touch, so one day's check reads only its own.

    Without this every day of a search scanned every booking loaded for the whole plan
    span (tens of thousands at full size), which was most of auto-fit's time.
    """

    def __init__(self, intervals: Iterable[Interval]):
        self.by_day: dict[int, list[Interval]] = {}
        self.long: list[Interval] = []
        for i in intervals:
            if i.end - i.start > LONG_INTERVAL:
                self.long.append(i)
                continue
            for day in range(_utc_day(i.start), _utc_day(i.end) + 1):
                self.by_day.setdefault(day, []).append(i)

    def touching(self, lo: dt.datetime, hi: dt.datetime) -> list[Interval]:
        """Intervals overlapping [lo, hi); one spanning two dates may appear twice (harmless)."""
        found = [i for i in self.long if i.overlaps(lo, hi)]
        for day in range(_utc_day(lo), _utc_day(hi) + 1):
            found += [i for i in self.by_day.get(day, ()) if i.overlaps(lo, hi)]
        return found


class _DayIndex:
    """What blocks each practitioner and room, by day, with the per-day lists cached."""

    def __init__(self, availability: Availability):
        self.tz = availability.tz
        self.own = {
            p.id: _Filed([*availability.clinic_closures, *p.time_off, *p.busy]) for p in availability.practitioners
        }
        self.rooms = [(r, _Filed([*r.closures, *r.busy])) for r in availability.rooms]
        self._own_cache: dict[tuple[int, dt.date, dt.timedelta], list[Interval]] = {}
        self._rooms_cache: dict[tuple[dt.date, dt.timedelta], list[tuple[RoomAvailability, list[Interval]]]] = {}

    def _span(self, day: dt.date, reach: dt.timedelta) -> tuple[dt.datetime, dt.datetime]:
        # A slot's buffer may run past midnight, so the day reaches `reach` into the next.
        lo = local_instant(day, dt.time(0), self.tz)
        return lo, local_instant(day + dt.timedelta(days=1), dt.time(0), self.tz) + reach

    def near(
        self, practitioner_id: int, day: dt.date, reach: dt.timedelta
    ) -> tuple[list[Interval], list[tuple[RoomAvailability, list[Interval]]]]:
        """(what blocks the practitioner, what blocks each room) on `day`; computed once per day."""
        own = self._own_cache.get((practitioner_id, day, reach))
        if own is None:
            own = self._own_cache[(practitioner_id, day, reach)] = self.own[practitioner_id].touching(
                *self._span(day, reach)
            )
        rooms = self._rooms_cache.get((day, reach))
        if rooms is None:
            lo, hi = self._span(day, reach)
            rooms = self._rooms_cache[(day, reach)] = [(r, filed.touching(lo, hi)) for r, filed in self.rooms]
        return own, rooms


def _day_slots(
    availability: Availability,
    practitioner: PractitionerAvailability,
    day: dt.date,
    duration_minutes: int,
    buffer_minutes: int,
    extra: Sequence[Taken] = (),
) -> Iterator[Slot]:
    """Free slots of one practitioner on one clinic-local day, in time order (lazy)."""
    tz = availability.tz
    step = dt.timedelta(minutes=availability.granularity_minutes)
    length = dt.timedelta(minutes=duration_minutes)
    blocked = dt.timedelta(minutes=duration_minutes + buffer_minutes)
    blocks = practitioner.weekly_hours.get(day.weekday(), [])
    if not blocks:
        return
    if not availability.is_loaded(day):
        raise DayNotLoaded(day)
    own, rooms = availability._index.near(practitioner.id, day, blocked)
    if extra:
        own = [*own, *(span for pid, _, span in extra if pid == practitioner.id)]
        rooms = [(r, [*taken, *(span for _, rid, span in extra if rid == r.id)]) for r, taken in rooms]
    for open_at, close_at in blocks:
        start = local_instant(day, open_at, tz)
        closing = local_instant(day, close_at, tz)
        while start + length <= closing:
            until = start + blocked
            if _clear(own, start, until):
                room = next((r for r, taken in rooms if _clear(taken, start, until)), None)
                if room is not None:
                    yield Slot(practitioner.id, room.id, start, start + length, until)
            start += step


def free_slots(
    availability: Availability,
    day: dt.date,
    *,
    duration_minutes: int,
    buffer_minutes: int,
    practitioner_ids: Sequence[int] | None = None,
    extra: Sequence[Taken] = (),
) -> list[Slot]:
    """Every start on `day` (clinic-local) where a practitioner and a room are both free.

    The session itself must end within working hours; the cleanup buffer may run past
    closing but must not overlap anything else booked for that practitioner or room.
    One slot per (start, practitioner): the first free room in name order.
    """
    slots = [
        slot
        for p in availability.practitioners
        if practitioner_ids is None or p.id in practitioner_ids
        for slot in _day_slots(availability, p, day, duration_minutes, buffer_minutes, extra)
    ]
    slots.sort(key=lambda s: (s.start, s.practitioner_id))
    return slots


def first_slot(
    availability: Availability,
    day: dt.date,
    *,
    duration_minutes: int,
    buffer_minutes: int,
    practitioner_ids: Sequence[int] | None,
    accept: Callable[[Slot], bool],
    extra: Sequence[Taken] = (),
) -> Slot | None:
    """The earliest free slot on `day` that `accept` takes (cheap: stops at each practitioner's first)."""
    best = None
    for p in availability.practitioners:
        if practitioner_ids is not None and p.id not in practitioner_ids:
            continue
        slots = _day_slots(availability, p, day, duration_minutes, buffer_minutes, extra)
        slot = next((s for s in slots if accept(s)), None)
        if slot is not None and (
            best is None or (slot.start, slot.practitioner_id) < (best.start, best.practitioner_id)
        ):
            best = slot
    return best


def unavailable_reasons(
    availability: Availability,
    *,
    practitioner_id: int,
    room_id: int,
    start: dt.datetime,
    duration_minutes: int,
    buffer_minutes: int,
) -> list[str]:
    """Why a chosen time is not workable for this practitioner and room, ignoring bookings
    (those are reported by the caller with who holds the slot). Empty: workable."""
    tz = availability.tz
    end = start + dt.timedelta(minutes=duration_minutes)
    until = end + dt.timedelta(minutes=buffer_minutes)
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    practitioner = next((p for p in availability.practitioners if p.id == practitioner_id), None)
    room = next((r for r in availability.rooms if r.id == room_id), None)
    if practitioner is None:
        return ["the practitioner is not active"]
    if room is None:
        return ["the room is not in use"]
    reasons = []
    blocks = practitioner.weekly_hours.get(local_start.weekday(), [])
    inside = local_start.date() == local_end.date() and any(
        a <= local_start.time() and local_end.time() <= b for a, b in blocks
    )
    if not inside:
        hours = ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in blocks) or "not working"
        reasons.append(f"outside working hours ({local_start:%A}: {hours})")
    if not _clear(practitioner.time_off, start, until):
        reasons.append("on time off")
    if not _clear(room.closures, start, until):
        reasons.append(f"{room.name} is closed")
    if not _clear(availability.clinic_closures, start, until):
        reasons.append("the clinic is closed")
    return reasons


def works_on(availability: Availability, day: dt.date, practitioner_ids: Sequence[int] | None) -> bool:
    return any(
        p.weekly_hours.get(day.weekday())
        for p in availability.practitioners
        if practitioner_ids is None or p.id in practitioner_ids
    )


# --- Constraints between sessions of one plan ---------------------------------------------


@dataclass(frozen=True)
class Bounds:
    first: dt.date
    last: dt.date
    why_first: str  # the rule that sets `first`, for messages
    why_last: str


def date_bounds(spec: SessionSpec, placed: Sequence[Placed], rules: SeriesRules, tz: ZoneInfo) -> Bounds:
    """The clinic-local dates `spec` may take given the sessions placed before it.

    Only earlier sessions (by sequence) constrain a later one, so a search in sequence
    order sees every rule exactly once.
    """
    first, why_first = spec.earliest, f"on or after the earliest date {fmt_day(spec.earliest)}"
    last, why_last = spec.latest, f"on or before the latest date {fmt_day(spec.latest)}"
    before = [p for p in placed if p.sequence < spec.sequence]

    def raise_first(day: dt.date, why: str) -> None:
        nonlocal first, why_first
        if day > first:
            first, why_first = day, why

    if before:
        day = local_date(max(before, key=lambda p: p.start).start, tz)
        raise_first(day, f"after the previous session ({fmt_day(day)})")
    mn_before = [p for p in before if p.kind == MICRONEEDLING]
    if spec.kind == MICRONEEDLING and mn_before:
        prev_day = local_date(max(mn_before, key=lambda p: p.start).start, tz)
        raise_first(
            prev_day + dt.timedelta(days=rules.interval_min_days),
            f"at least {rules.interval_min_days} days after the previous session ({fmt_day(prev_day)})",
        )
        hi = prev_day + dt.timedelta(days=rules.interval_max_days)
        if hi < last:
            last = hi
            why_last = f"at most {rules.interval_max_days} days after the previous session ({fmt_day(prev_day)})"
    if spec.kind == MICRONEEDLING:
        for p in before:
            if p.kind == COMBINATION and p.min_days_before_mn:
                raise_first(
                    local_date(p.start, tz) + dt.timedelta(days=p.min_days_before_mn),
                    f"at least {p.min_days_before_mn} days after the combination treatment (washout)",
                )
    if spec.kind == COMBINATION and spec.min_days_after_mn:
        for p in mn_before:
            raise_first(
                local_date(p.start, tz) + dt.timedelta(days=spec.min_days_after_mn),
                f"at least {spec.min_days_after_mn} days after microneedling (washout)",
            )
    return Bounds(first, last, why_first, why_last)


def _after_previous(slot: Slot, spec: SessionSpec, placed: Sequence[Placed]) -> bool:
    """A later session in sequence starts after every earlier one is over (same-day cases)."""
    return all(slot.start >= p.blocked_until for p in placed if p.sequence < spec.sequence)


def _as_placed(spec: SessionSpec, slot: Slot) -> Placed:
    return Placed(
        spec.sequence, spec.kind, slot.start, slot.blocked_until, spec.min_days_after_mn, spec.min_days_before_mn
    )


# --- Whole-series fit ------------------------------------------------------------------


def _matches(slot: Slot, prefs: Preferences, tz: ZoneInfo) -> bool:
    local = slot.start.astimezone(tz)
    if prefs.weekdays and local.weekday() not in prefs.weekdays:
        return False
    if prefs.part_of_day == "morning" and local.time() >= MORNING_END:
        return False
    return not (prefs.part_of_day == "afternoon" and local.time() < MORNING_END)


def _keeps_later(slot: Slot, spec: SessionSpec, placed: Sequence[Placed], rules: SeriesRules, tz: ZoneInfo) -> bool:
    """`slot` breaks no rule of a later session that already has a time.

    Sessions are placed in sequence order, so a later placed session is one booked before
    (e.g. session 3 stays booked while cancelled session 2 is re-fitted): its interval,
    washouts and order must still hold with `spec` at `slot`.
    """
    later = [p for p in placed if p.sequence > spec.sequence]
    if not later:
        return True
    me = _as_placed(spec, slot)
    for p in later:
        if p.start < me.blocked_until:
            return False
        fixed = SessionSpec(
            key=0,
            sequence=p.sequence,
            label="",
            kind=p.kind,
            earliest=dt.date.min,
            target=dt.date.min,
            latest=dt.date.max,
            duration_minutes=0,
            min_days_after_mn=p.min_days_after_mn,
            min_days_before_mn=p.min_days_before_mn,
        )
        bounds = date_bounds(fixed, [*(q for q in placed if q.sequence < p.sequence), me], rules, tz)
        if not bounds.first <= local_date(p.start, tz) <= bounds.last:
            return False
    return True


def keeps_plan(slot: Slot, spec: SessionSpec, placed: Sequence[Placed], rules: SeriesRules, tz: ZoneInfo) -> bool:
    """`slot` for `spec` keeps the plan's order, intervals and washouts with every session
    already placed, before and after it (what auto-fit checks; rebooking offers reuse it)."""
    return _after_previous(slot, spec, placed) and _keeps_later(slot, spec, placed, rules, tz)


def _candidates(
    spec: SessionSpec,
    placed: Sequence[Placed],
    availability: Availability,
    rules: SeriesRules,
    prefs: Preferences,
    strict: bool,
    extra: Sequence[Taken] = (),
) -> Iterator[Slot]:
    """Slots for `spec`, closest to its target first; at most one per date (the earliest
    matching start), because later sessions only care about the date."""
    tz = availability.tz
    bounds = date_bounds(spec, placed, rules, tz)
    first, last = bounds.first, bounds.last
    if first > last:
        return
    days = sorted(daterange(first, last), key=lambda d: (abs((d - spec.target).days), d))
    ids = prefs.allowed_practitioners()

    def accept(s: Slot) -> bool:
        return (
            _after_previous(s, spec, placed)
            and (not strict or _matches(s, prefs, tz))
            and _keeps_later(s, spec, placed, rules, tz)
        )

    for day in days:
        if strict and prefs.weekdays and day.weekday() not in prefs.weekdays:
            continue
        slot = first_slot(
            availability,
            day,
            duration_minutes=spec.duration_minutes,
            buffer_minutes=spec.buffer_minutes,
            practitioner_ids=ids,
            accept=accept,
            extra=extra,
        )
        if slot is not None:
            yield slot


def fit_series(
    sessions: Sequence[SessionSpec],
    *,
    placed: Sequence[Placed],
    availability: Availability,
    rules: SeriesRules,
    preferences: Preferences = Preferences(),  # noqa: B008 - frozen dataclass, safe default
    budget: int = SEARCH_BUDGET,
) -> FitResult:
    """Propose a slot for every session in `sessions`, or explain why one cannot fit.

    1. Each session alone must have a candidate given only the sessions that already
       have a time; if one has none (e.g. a one-day window on a day nobody works) that
       is the answer, without searching combinations of the others.
    2. Sessions are placed in sequence order; each gets the free date closest to its
       target inside its window and inside the rules from the sessions before it
       (interval min/max from the previous microneedling session, washouts).
    3. When a session has no candidate, the search backtracks to try the next-best
       date of an earlier session, up to `budget` tries in total.
    4. Preferences (weekdays, morning/afternoon) are tried as hard filters first; if no
       complete series fits them, the fit is retried without them and says so.
    Never returns a partial series: either every session has a slot or `problem` is set.
    """
    ordered = sorted(sessions, key=lambda s: s.sequence)
    if not ordered:
        return FitResult(bookings=[])
    for spec in ordered:
        if next(_candidates(spec, placed, availability, rules, preferences, strict=False), None) is None:
            problem = explain(spec, placed=placed, availability=availability, rules=rules, preferences=preferences)
            return FitResult(bookings=[], problem=problem)
    wants = bool(preferences.weekdays) or preferences.part_of_day != "any"
    attempts = [True, False] if wants else [False]
    deepest: tuple[int, list[Placed], list[Taken]] | None = None
    exhausted = False
    for strict in attempts:
        found, reached, ran_out = _search(ordered, list(placed), availability, rules, preferences, strict, budget)
        if found is not None:
            return FitResult(bookings=found, preferences_relaxed=strict is False and wants)
        exhausted = exhausted or ran_out
        if deepest is None or reached[0] >= deepest[0]:
            deepest = reached
    index, placed_then, taken_then = deepest
    problem = explain(
        ordered[index],
        placed=placed_then,
        availability=availability,
        rules=rules,
        preferences=preferences,
        extra=taken_then,
    )
    if exhausted:
        # Not proven impossible: say so rather than claim the series cannot fit.
        problem = replace(problem, reason=problem.reason + " (search limit reached: not every combination was tried)")
    return FitResult(bookings=[], problem=problem)


def _state_key(i: int, placed: Sequence[Placed]) -> tuple:
    """What the sessions from index i on can depend on, for remembering dead ends.

    Later sessions are constrained by the latest microneedling session (interval), every
    session on or after its date (order, same-day times, washouts) and combinations with
    a washout before later microneedling. Own placements at earlier dates cannot touch
    later sessions' days, so they are left out: two paths that agree on this key have
    the same future.
    """
    mns = [p for p in placed if p.kind == MICRONEEDLING]
    since = max((p.start for p in mns), default=None)
    relevant = [
        (p.sequence, p.start)
        for p in placed
        if since is None or p.start >= since or (p.kind == COMBINATION and p.min_days_before_mn)
    ]
    return (i, tuple(sorted(relevant)))


def _search(ordered, placed, availability, rules, prefs, strict, budget):
    """Depth-first search with remembered dead ends.

    The availability stays the same throughout (its per-day index is reused); the
    search's own tentative bookings travel alongside as `taken`.
    Returns (bookings or None, (deepest index, its placed, its taken), budget exhausted).
    """
    tries = 0
    deepest: tuple[int, list[Placed], list[Taken]] = (0, list(placed), [])
    chosen: list[ProposedBooking] = []
    dead_ends: set[tuple] = set()

    def place(i: int, placed_now: list[Placed], taken: list[Taken]) -> bool:
        nonlocal tries, deepest
        if i == len(ordered):
            return True
        if i > deepest[0]:
            deepest = (i, placed_now, taken)
        key = _state_key(i, placed_now)
        if key in dead_ends:
            return False
        spec = ordered[i]
        for slot in _candidates(spec, placed_now, availability, rules, prefs, strict, taken):
            tries += 1
            if tries > budget:
                return False
            chosen.append(ProposedBooking(spec.key, spec.label, slot))
            span = Interval(slot.start, slot.blocked_until)
            if place(
                i + 1,
                [*placed_now, _as_placed(spec, slot)],
                [*taken, (slot.practitioner_id, slot.room_id, span)],
            ):
                return True
            chosen.pop()
        if tries <= budget:
            dead_ends.add(key)
        return False

    ok = place(0, placed, [])
    return (list(chosen) if ok else None), deepest, tries > budget


def _names(availability: Availability, ids: Sequence[int]) -> list[str]:
    return [p.name for p in availability.practitioners if p.id in ids] or ["the practitioner"]


def _joined(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def explain(
    spec: SessionSpec,
    *,
    placed: Sequence[Placed],
    availability: Availability,
    rules: SeriesRules,
    preferences: Preferences = Preferences(),  # noqa: B008
    extra: Sequence[Taken] = (),
) -> Infeasible:
    """Why `spec` has no slot given what is placed before it, with the nearest slots outside its range."""
    tz = availability.tz
    bounds = date_bounds(spec, placed, rules, tz)
    first, last = bounds.first, bounds.last
    ids = preferences.allowed_practitioners()
    names = _names(availability, ids) if ids else []

    def find(days: Iterable[dt.date]) -> list[Slot]:
        for day in days:
            slots = free_slots(
                availability,
                day,
                duration_minutes=spec.duration_minutes,
                buffer_minutes=spec.buffer_minutes,
                practitioner_ids=ids,
                extra=extra,
            )
            slots = [s for s in slots if _after_previous(s, spec, placed)]
            if slots:
                return slots[:3]
        return []

    after = find(daterange(max(first, last + dt.timedelta(days=1)), last + dt.timedelta(days=NEAREST_SEARCH_DAYS)))
    before_first = max(spec.earliest, first - dt.timedelta(days=NEAREST_SEARCH_DAYS))
    before = find(reversed(list(daterange(before_first, min(last, first - dt.timedelta(days=1))))))
    nearest = before[:1] + after[:2]
    if first > last:
        reason = f"{spec.label}: no date is both {bounds.why_first} and {bounds.why_last}"
    else:
        span = fmt_span(first, last)
        if not any(works_on(availability, d, ids) for d in daterange(first, last)):
            if not names:
                reason = f"{spec.label}: no practitioner works on {span}"
            elif len(names) == 1:
                reason = f"{spec.label}: {names[0]} does not work on {span}"
            else:
                reason = f"{spec.label}: none of {_joined(names)} works on {span}"
        elif names:
            reason = f"{spec.label}: {_joined(names)} {'all ' if len(names) > 1 else ''}fully booked or away {span}"
        else:
            reason = f"{spec.label}: every practitioner or room fully booked or away {span}"
        if after:
            day = after[0].local_date(tz)
            reason += f"; nearest slot {fmt_day(day)} is after the latest date {fmt_day(last)}"
        if first > spec.earliest:
            reason += f" (it must be {bounds.why_first})"
    return Infeasible(spec.key, spec.label, reason, nearest)


# --- Rescheduling cascade ---------------------------------------------------------------


@dataclass(frozen=True)
class Scheduled:
    """A session of the plan with its current time, for the cascade."""

    spec: SessionSpec
    start: dt.datetime | None  # None: not booked (the cascade leaves it to auto-fit)
    blocked_until: dt.datetime | None
    practitioner_id: int | None
    room_id: int | None
    locked: bool = False  # completed / cancelled sessions never move


def cascade(
    schedule: Sequence[Scheduled],
    *,
    moved_key: int,
    new_slot: Slot,
    availability: Availability,
    rules: SeriesRules,
) -> list[Shift]:
    """Shifts for the sessions after `moved_key` so the series still keeps its rules.

    A later booked session moves only when the move broke its minimum interval or a
    washout, and only as far as needed: to the first date the rules allow, at the free
    time closest to its current time of day with the same practitioner (any room). A
    shift that lands past the session's latest date is flagged `outside_window`.
    `availability` must not count the plan's own movable sessions as busy.
    """
    tz = availability.tz
    ordered = sorted(schedule, key=lambda s: s.spec.sequence)
    moved = next(s for s in ordered if s.spec.key == moved_key)
    placed: list[Placed] = []
    avail = availability
    shifts: list[Shift] = []
    for item in ordered:
        spec = item.spec
        if spec.sequence < moved.spec.sequence:
            if item.start is not None:
                placed.append(
                    Placed(
                        spec.sequence,
                        spec.kind,
                        item.start,
                        item.blocked_until,
                        spec.min_days_after_mn,
                        spec.min_days_before_mn,
                    )
                )
            continue
        if item is moved:
            slot = new_slot
        elif item.start is None or item.locked:
            continue
        else:
            bounds = date_bounds(replace(spec, earliest=dt.date.min, latest=dt.date.max), placed, rules, tz)
            first, why = bounds.first, bounds.why_first
            current = Slot(item.practitioner_id, item.room_id, item.start, item.start, item.blocked_until)
            if local_date(item.start, tz) >= first and _after_previous(current, spec, placed):
                slot = Slot(
                    item.practitioner_id,
                    item.room_id,
                    item.start,
                    item.start + dt.timedelta(minutes=spec.duration_minutes),
                    item.blocked_until,
                )
            else:
                slot = _nearest_same_time(item, first, placed, avail)
                shifts.append(
                    Shift(
                        spec.key,
                        spec.label,
                        item.start,
                        slot,
                        f"{spec.label} must be {why}",
                        outside_window=slot is None or slot.local_date(tz) > spec.latest,
                    )
                )
                if slot is None:
                    continue
        placed.append(_as_placed(spec, slot))
        if slot.practitioner_id is not None and slot.room_id is not None:
            avail = avail.with_busy(slot.practitioner_id, slot.room_id, Interval(slot.start, slot.blocked_until))
    return shifts


def _nearest_same_time(item: Scheduled, first: dt.date, placed: Sequence[Placed], avail: Availability) -> Slot | None:
    tz = avail.tz
    spec = item.spec
    wanted = item.start.astimezone(tz).time()
    wanted_minutes = wanted.hour * 60 + wanted.minute
    for day in daterange(first, first + dt.timedelta(days=NEAREST_SEARCH_DAYS)):
        slots = [
            s
            for s in free_slots(
                avail,
                day,
                duration_minutes=spec.duration_minutes,
                buffer_minutes=spec.buffer_minutes,
                practitioner_ids=[item.practitioner_id],
            )
            if _after_previous(s, spec, placed)
        ]
        if slots:

            def distance(s: Slot) -> int:
                t = s.start.astimezone(tz)
                return abs(t.hour * 60 + t.minute - wanted_minutes)

            return min(slots, key=lambda s: (distance(s), s.start))
    return None


def check_rules(
    spec: SessionSpec, start: dt.datetime, placed: Sequence[Placed], rules: SeriesRules, tz: ZoneInfo
) -> list[str]:
    """Rule problems (interval, washout, order) for `spec` at `start` given the sessions before it."""
    day = local_date(start, tz)
    bounds = date_bounds(replace(spec, earliest=dt.date.min, latest=dt.date.max), placed, rules, tz)
    problems = []
    if day < bounds.first:
        problems.append(f"{spec.label} must be {bounds.why_first}")
    if day > bounds.last:
        problems.append(f"{spec.label} must be {bounds.why_last}")
    return problems
