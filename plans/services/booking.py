"""Booking writes: whole-series fit and book, single booking, reschedule with cascade,
cancel, no-show, complete.

Never double-booked, on both backends: every write locks the practitioner and room
rows it touches and re-checks overlap under that lock; on SQLite the IMMEDIATE
transaction serialises writers, and on PostgreSQL an exclusion constraint (migration
0004) is the last word, its IntegrityError translated to the same SlotTaken.

Never deadlocked by each other: every write takes its locks in ONE order, the plan row,
then the plan's sessions by id (`_lock_plan`), then practitioners by id and rooms by id
in a single `_lock` call. Should the database still report a deadlock or a
serialization failure, the write is retried (RETRIES times) and then refused as
BookingBusy, which the views answer with 409, never 500.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from plans import outbox, scheduling
from plans.clock import clinic_zone as clinic_tz  # the one spelling of the clinic's zone
from plans.models import (
    BOOKABLE_STATUSES,
    OCCUPYING_STATUSES,
    CheckResult,
    ClinicalOverride,
    ClinicalRule,
    ConsentKind,
    Device,
    Endpoint,
    IllegalTransition,
    Lot,
    LotKind,
    PlanSession,
    Practitioner,
    PreSessionCheck,
    Room,
    SessionKind,
    SessionStatus,
    SignedConsent,
    TimeOff,
    TreatmentPlan,
    TreatmentRecord,
    WorkingHours,
    ZoneDepth,
    mm,
)

log = logging.getLogger(__name__)

OCCUPYING = OCCUPYING_STATUSES
# Longer than any one booking (minutes of treatment plus cleanup).
MAX_BOOKING_SPAN = dt.timedelta(days=1)
# Auto-fit first reads bookings for this many days either side of each session's target,
# where a fit nearly always lands; a whole plan span at full size is tens of thousands of
# rows, and converting them was most of auto-fit's time.
NEAR_TARGET_DAYS = 3
# Then, each time the fit asks for a day not read, it reads a fortnight around that day
# and fits again, this many times at most, before reading the whole span.
READ_ROUNDS = 3
_now: Callable[[], dt.datetime] = timezone.now  # injectable clock for tests


P = ParamSpec("P")
R = TypeVar("R")
# Attempts of one write when the database reports a deadlock or serialization failure.
RETRIES = 3


class BookingError(Exception):
    """A booking request the rules refuse; the message is for staff, `code` for programs
    (the calendar decides what to ask by it, never by the message's words)."""

    code = "refused"

    def __init__(self, message: str, *, code: str | None = None):
        if code:
            self.code = code
        super().__init__(message)


class SlotTaken(BookingError):
    """The practitioner or room is already booked then."""

    code = "slot_taken"


class NeedsOverride(BookingError):
    """Allowed only with a reason to override the window, interval or washout."""

    code = "needs_override"


class Unavailable(BookingError):
    """Outside working hours, or during time off or a closure."""

    code = "unavailable"


class BookingBusy(BookingError):
    """Other writes held the same rows until the retries ran out: try again."""

    code = "busy"


class CascadeRequired(BookingError):
    """Moving this session needs later sessions moved too: confirm these shifts."""

    code = "cascade_required"

    def __init__(self, shifts: list[scheduling.Shift], message: str = ""):
        self.shifts = shifts
        super().__init__(message or "Moving this session moves later sessions too: confirm the proposed shifts.")


def _is_lock_conflict(exc: OperationalError) -> bool:
    # 40P01 deadlock_detected, 40001 serialization_failure (PostgreSQL); SQLite's busy timeout.
    return getattr(exc.__cause__, "sqlstate", None) in ("40P01", "40001") or "database is locked" in str(exc)


def locked_write(fn: Callable[P, R]) -> Callable[P, R]:
    """Run a booking write in its own transaction; retry it when the database reports a
    deadlock or serialization failure (the whole transaction was rolled back, so running
    it again is safe), and refuse it as BookingBusy when the retries run out. A model's
    IllegalTransition becomes a BookingError with the same code.

    Inside an outer transaction (tests, or a caller's atomic block) a retry cannot undo
    the caller's work, so there is one attempt; on SQLite too, whose "database is locked"
    comes only after the busy timeout has already waited (settings: 20 s)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        conn = transaction.get_connection()
        attempts = 1 if conn.in_atomic_block or conn.vendor == "sqlite" else RETRIES
        for attempt in range(1, attempts + 1):
            try:
                with transaction.atomic():
                    return fn(*args, **kwargs)
            except IllegalTransition as exc:
                raise BookingError(str(exc), code=exc.code) from exc
            except OperationalError as exc:
                if not _is_lock_conflict(exc):
                    raise
                log.warning("%s: lock conflict on attempt %d of %d: %s", fn.__name__, attempt, attempts, exc)
                if attempt == attempts:
                    raise BookingBusy(
                        "Someone else was changing the same appointments: nothing was saved, try again."
                    ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper


# --- Reading the database into the scheduler's plain data ---------------------------------


def _midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=tz)


def availability_for(
    *,
    first: dt.date,
    last: dt.date,
    exclude_session_ids: Iterable[int] = (),
    not_before: dt.datetime | None = None,
    practitioner_ids: Sequence[int] | None = None,
    dates: Sequence[tuple[dt.date, dt.date]] | None = None,
) -> scheduling.Availability:
    """Working hours, time off, closures and bookings between two clinic-local dates (5 queries).

    `practitioner_ids` limits the practitioners read (None: every active one); rooms are
    always all of them, since any practitioner's booking can hold a room. `dates` limits
    the bookings read to those clinic-local date ranges (default: [first, last]), in one
    query using the index on starts_at.
    """
    tz = clinic_tz()
    start = _midnight(first - dt.timedelta(days=1), tz)
    end = _midnight(last + dt.timedelta(days=2), tz)
    practitioners = Practitioner.objects.filter(active=True).order_by("id")
    if practitioner_ids is not None:
        practitioners = practitioners.filter(id__in=list(practitioner_ids))
    practitioners = list(practitioners)
    wanted = {p.id for p in practitioners}
    hours: dict[int, dict[int, list[tuple[dt.time, dt.time]]]] = {p.id: {} for p in practitioners}
    for wh in WorkingHours.objects.filter(practitioner_id__in=wanted):
        hours[wh.practitioner_id].setdefault(wh.weekday, []).append((wh.start, wh.end))
    time_off: dict[str, list] = {}
    clinic_closures = []
    if not_before is not None:
        # The past is closed: nothing can be proposed before now.
        clinic_closures.append(scheduling.Interval(dt.datetime(1970, 1, 1, tzinfo=dt.UTC), not_before))
    for t in TimeOff.objects.filter(starts_at__lt=end, ends_at__gt=start):
        span = scheduling.Interval(t.starts_at, t.ends_at)
        if t.practitioner_id:
            time_off.setdefault(f"p{t.practitioner_id}", []).append(span)
        elif t.room_id:
            time_off.setdefault(f"r{t.room_id}", []).append(span)
        else:
            clinic_closures.append(span)
    spans = Q()
    for a, b in dates if dates is not None else [(first, last)]:
        lo, hi = _midnight(a - dt.timedelta(days=1), tz), _midnight(b + dt.timedelta(days=2), tz)
        # A booking lasts well under a day, so one that reaches `lo` started after lo - 1 day:
        # that lower bound on starts_at lets PostgreSQL use the index.
        spans |= Q(starts_at__gte=lo - MAX_BOOKING_SPAN, starts_at__lt=hi, blocked_until__gt=lo)
    busy: dict[str, list] = {}
    rows = (
        PlanSession.objects.filter(spans, status__in=OCCUPYING)
        .exclude(id__in=list(exclude_session_ids))
        .order_by()  # the model's default ordering joins the plan table: not needed here
        .values_list("practitioner_id", "room_id", "starts_at", "blocked_until")
    )
    for practitioner_id, room_id, starts_at, blocked_until in rows if spans else ():  # no dates: no query
        span = scheduling.Interval(starts_at, blocked_until)
        if practitioner_id in wanted:
            busy.setdefault(f"p{practitioner_id}", []).append(span)
        if room_id:
            busy.setdefault(f"r{room_id}", []).append(span)
    rooms = list(Room.objects.filter(active=True).order_by("name", "id"))
    return scheduling.Availability(
        tz=tz,
        practitioners=[
            scheduling.PractitionerAvailability(
                p.id, p.display_name, hours[p.id], time_off.get(f"p{p.id}", []), busy.get(f"p{p.id}", [])
            )
            for p in practitioners
        ],
        rooms=[
            scheduling.RoomAvailability(r.id, r.name, time_off.get(f"r{r.id}", []), busy.get(f"r{r.id}", []))
            for r in rooms
        ],
        clinic_closures=clinic_closures,
        loaded=tuple(dates) if dates is not None else None,
    )


def spec_for(session: PlanSession) -> scheduling.SessionSpec:
    return scheduling.SessionSpec(
        key=session.id,
        sequence=session.sequence,
        label=session.sequence_label,
        kind=session.kind,
        earliest=session.earliest,
        target=session.target,
        latest=session.latest,
        duration_minutes=session.duration_minutes,
        buffer_minutes=session.buffer_minutes,
        mn_number=session.mn_number,
        min_days_after_mn=session.min_days_after_mn,
        min_days_before_mn=session.min_days_before_mn,
    )


def placed_for(session: PlanSession) -> scheduling.Placed:
    return scheduling.Placed(
        session.sequence,
        session.kind,
        session.starts_at,
        session.blocked_until,
        session.min_days_after_mn,
        session.min_days_before_mn,
    )


def rules_for(plan: TreatmentPlan) -> scheduling.SeriesRules:
    params = plan.params
    return scheduling.SeriesRules(params.interval_min_days, params.interval_max_days)


# --- Whole series ---------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesProposal:
    plan: TreatmentPlan
    result: scheduling.FitResult
    sessions: dict[int, PlanSession]

    @property
    def rows(self) -> list[tuple[PlanSession, scheduling.ProposedBooking]]:
        return [(self.sessions[b.session_key], b) for b in self.result.bookings]


def _merged(ranges: Iterable[tuple[dt.date, dt.date]]) -> list[tuple[dt.date, dt.date]]:
    """Date ranges sorted, empty ones dropped, touching or overlapping ones joined."""
    out: list[tuple[dt.date, dt.date]] = []
    for a, b in sorted(r for r in ranges if r[0] <= r[1]):
        if out and a <= out[-1][1] + dt.timedelta(days=1):
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def series_propose(*, plan: TreatmentPlan, preferences: scheduling.Preferences) -> SeriesProposal:
    """A concrete slot for every session of `plan` still to book (proposed, or cancelled or
    missed with its window still open), or the reason one cannot fit. Read-only.

    Queries do not grow with the plan's length: the plan's sessions, then availability for
    the practitioners allowed by `preferences`, with bookings of the days around each
    target; only when the fit needs other days (see READ_ROUNDS) is availability read again.
    """
    now = _now()
    today = timezone.localdate(now)
    sessions = list(plan.sessions.select_related(None).order_by("sequence"))
    todo = plan.bookable_sessions(today=today, sessions=sessions)
    placed = [placed_for(s) for s in sessions if s.is_occupying]
    if not plan.is_bookable:
        raise BookingError(f"The plan is {plan.get_status_display().lower()}: nothing to book.")
    code, reason = plan.clinical_refusal()
    if code:
        raise BookingError(reason, code=code)
    if not todo:
        return SeriesProposal(plan, scheduling.FitResult(bookings=[]), {})
    last = max(s.latest for s in todo) + dt.timedelta(days=scheduling.NEAREST_SEARCH_DAYS)
    first = min(min(s.earliest for s in todo), today)
    near = dt.timedelta(days=NEAR_TARGET_DAYS)
    dates = _merged([(max(s.earliest, s.target - near, today), min(s.latest, s.target + near)) for s in todo])
    ids = preferences.allowed_practitioners()

    def fit(dates: list[tuple[dt.date, dt.date]] | None) -> scheduling.FitResult:
        availability = availability_for(first=first, last=last, not_before=now, practitioner_ids=ids, dates=dates)
        return scheduling.fit_series(
            [spec_for(s) for s in todo],
            placed=placed,
            availability=availability,
            rules=rules_for(plan),
            preferences=preferences,
        )

    for _ in range(READ_ROUNDS):
        try:
            result = fit(dates)
            break
        except scheduling.DayNotLoaded as missing:
            week = dt.timedelta(days=7)
            dates = _merged([*dates, (missing.day - week, missing.day + week)])
    else:
        result = fit(None)
    return SeriesProposal(plan, result, {s.id: s for s in todo})


def _lock_plan(plan_id: int) -> tuple[TreatmentPlan, list[PlanSession]]:
    """The first locks of every write: the plan row, then all its sessions by id.

    Two writes of one plan then queue on the plan row instead of each holding a row the
    other wants (the deadlock of "Book all" against booking one of its sessions). No
    select_related here: FOR UPDATE over a join would lock the plan from the session side.
    """
    plan = TreatmentPlan.objects.select_for_update().get(pk=plan_id)
    sessions = list(plan.sessions.select_for_update().order_by("id"))
    for s in sessions:
        s.plan = plan  # the locked row, so nothing reads it again
    return plan, sorted(sessions, key=lambda s: s.sequence)


def _locked_session(session_id: int) -> tuple[PlanSession, list[PlanSession]]:
    """The session, locked in the one order (plan, then its sessions), and its plan's sessions by sequence."""
    plan_id = PlanSession.objects.filter(pk=session_id).values_list("plan_id", flat=True).get()
    _plan, sessions = _lock_plan(plan_id)
    return next(s for s in sessions if s.id == session_id), sessions


def _lock(practitioner_ids: Iterable[int], room_ids: Iterable[int | None], *, all_rooms: bool = False) -> None:
    """Practitioner then room rows, each by id: called once per write, after `_lock_plan`.

    `all_rooms` (for "any free room"): every active room, so the room can be chosen under
    the lock; choosing it first and locking it after let a parallel booking take it.
    """
    list(Practitioner.objects.select_for_update().filter(id__in=sorted(set(practitioner_ids))).order_by("id"))
    rooms = Room.objects.select_for_update().order_by("id")
    rooms = rooms.filter(active=True) if all_rooms else rooms.filter(id__in=sorted({r for r in room_ids if r}))
    list(rooms.values_list("id", flat=True))


def _conflict(
    *, practitioner_id: int, room_id: int | None, start: dt.datetime, until: dt.datetime, ignore: Iterable[int]
) -> PlanSession | None:
    who = Q(practitioner_id=practitioner_id)
    if room_id:
        who |= Q(room_id=room_id)
    return (
        # The lower bound on starts_at, as in availability_for, bounds the index range scan.
        PlanSession.objects.filter(
            who,
            status__in=OCCUPYING,
            starts_at__lt=until,
            starts_at__gte=start - MAX_BOOKING_SPAN,
            blocked_until__gt=start,
        )
        .exclude(id__in=list(ignore))
        .select_related("practitioner", "room")
        .first()
    )


def _taken_message(session: PlanSession, other: PlanSession) -> str:
    local = timezone.localtime(other.starts_at)
    end = timezone.localtime(other.blocked_until)
    what = (
        f"{other.practitioner} is"
        if other.practitioner_id == session.practitioner_id
        else f"{other.room or 'The room'} is"
    )
    return f"Slot taken: {what} already booked {local:%a %d %b %H:%M}–{end:%H:%M}."


def _overlap(a: PlanSession, b: PlanSession) -> bool:
    same = a.practitioner_id == b.practitioner_id or (a.room_id and a.room_id == b.room_id)
    return bool(same) and a.starts_at < b.blocked_until and b.starts_at < a.blocked_until


def _save_checked(sessions: Sequence[PlanSession], moving_ids: Iterable[int]) -> None:
    """Check overlap under the locks, then save; the DB constraint's IntegrityError becomes SlotTaken."""
    # The sessions written here are stale in the database (old times); they are checked
    # against each other below.
    ignore = set(moving_ids) | {x.id for x in sessions}
    for s in sessions:
        other = _conflict(
            practitioner_id=s.practitioner_id,
            room_id=s.room_id,
            start=s.starts_at,
            until=s.blocked_until,
            ignore=ignore,
        )
        if other is not None:
            raise SlotTaken(_taken_message(s, other))
    # Two sessions of this same write must not overlap each other either.
    for i, a in enumerate(sessions):
        for b in sessions[i + 1 :]:
            if _overlap(a, b):
                raise SlotTaken(f"Slot taken: {a.sequence_label} and {b.sequence_label} overlap.")
    try:
        with transaction.atomic():
            for s in sessions:
                s.save()
    except IntegrityError as exc:
        if "no_overlap" in str(exc):
            raise SlotTaken("Slot taken: someone booked that practitioner or room at the same moment.") from exc
        raise


def _check_proposed(b: scheduling.ProposedBooking, sessions: dict[int, PlanSession], practitioners) -> PlanSession:
    session = sessions.get(b.session_key)
    if session is None:
        raise BookingError("The proposal names a session of another plan.")
    if session.status not in BOOKABLE_STATUSES:
        raise BookingError(f"{session.sequence_label} is already {session.get_status_display().lower()}.")
    if b.slot.practitioner_id not in practitioners:
        raise BookingError("The proposal names a practitioner who does not exist.")
    return session


@locked_write
def series_book(*, plan: TreatmentPlan, proposal: Sequence[scheduling.ProposedBooking], by=None) -> list[PlanSession]:
    """Book every proposed slot of `plan` in one transaction: all or nothing.

    A session cancelled or missed earlier is booked again like a proposed one."""
    if not proposal:
        raise BookingError("Nothing to book: the proposal is empty.")
    plan, plan_sessions = _lock_plan(plan.pk)
    now = _now()  # read once the lock is held: times follow the order writes took effect
    _lock([b.slot.practitioner_id for b in proposal], [b.slot.room_id for b in proposal])
    sessions = {s.id: s for s in plan_sessions}
    practitioners = Practitioner.objects.in_bulk([b.slot.practitioner_id for b in proposal])
    rooms = Room.objects.in_bulk([b.slot.room_id for b in proposal])
    booked: list[PlanSession] = []
    for b in sorted(proposal, key=lambda b: sessions[b.session_key].sequence if b.session_key in sessions else 0):
        session = _check_proposed(b, sessions, practitioners)
        # Against earlier sessions and, for a re-booked one, the later ones still booked;
        # sessions of this proposal count as they are booked in sequence order.
        window, clinical = _plan_rule_problems(session, b.slot.start, plan_sessions)
        if window or clinical:
            # Booking a whole series overrides nothing: a clinical rule is never broken in bulk.
            code = "needs_clinician" if clinical else "refused"
            raise BookingError("; ".join([*window, *(text for _rule, text in clinical)]), code=code)
        practitioner, room = practitioners[b.slot.practitioner_id], rooms.get(b.slot.room_id)
        _check_available(session, b.slot.start, practitioner, room)
        session.book(starts_at=b.slot.start, practitioner=practitioner, room=room, now=now)
        booked.append(session)
    _save_checked(booked, [])
    _rewindow_after_visits(plan_sessions)
    outbox.on_sessions_booked(booked)
    log.info("series booked: plan %s, %d sessions, by %s", plan.pk, len(booked), by)
    return booked


# --- One session -----------------------------------------------------------------------


def _check_available(session: PlanSession, start: dt.datetime, practitioner: Practitioner, room: Room | None) -> None:
    """Working hours, time off and closures (bookings are checked under the lock)."""
    if room is None:
        raise BookingError("Choose a room: every session needs one.")
    day = timezone.localdate(start)
    avail = availability_for(first=day, last=day, exclude_session_ids=[session.id])
    # Bookings are checked separately (SlotTaken, with who holds the slot), so ignore them here.
    reasons = scheduling.unavailable_reasons(
        avail,
        practitioner_id=practitioner.id,
        room_id=room.id,
        start=start,
        duration_minutes=session.duration_minutes,
        buffer_minutes=session.buffer_minutes,
    )
    if reasons:
        raise Unavailable(f"{practitioner} cannot take {session.sequence_label} then: {'; '.join(reasons)}.")


def _pick_room(session: PlanSession, start: dt.datetime, ignore: Iterable[int] = ()) -> Room:
    """The first free room (by name), read under `_lock(..., all_rooms=True)` so no one takes it meanwhile."""
    until = start + dt.timedelta(minutes=session.duration_minutes + session.buffer_minutes)
    day = timezone.localdate(start)
    avail = availability_for(first=day, last=day, exclude_session_ids=[session.id, *ignore])
    for room in avail.rooms:
        if scheduling._clear([*room.busy, *room.closures], start, until):
            return Room.objects.get(pk=room.id)
    raise SlotTaken("Slot taken: every room is booked or closed then.")


# A clinical rule a booking broke: (ClinicalRule value, the problem as staff read it).
Clinical = tuple[str, str]


def _no_washout(x):
    return replace(x, min_days_after_mn=0, min_days_before_mn=0)


def _split_rule_problems(
    spec: scheduling.SessionSpec, start: dt.datetime, placed: Sequence[scheduling.Placed], rules, tz
) -> tuple[list[str], list[Clinical]]:
    """(scheduling problems, clinical problems) of `spec` at `start`.

    Interval min/max windows are scheduling: staff may override them with a reason. A
    washout between a combination treatment and microneedling is clinical: the same check
    without the washouts tells the two apart (what only the washouts cause is clinical)."""
    every = scheduling.check_rules(spec, start, placed, rules, tz)
    if not every:
        return [], []
    windows = scheduling.check_rules(_no_washout(spec), start, [_no_washout(p) for p in placed], rules, tz)
    return [p for p in every if p in windows], [(ClinicalRule.WASHOUT, p) for p in every if p not in windows]


def _deferral_problem(session: PlanSession, start: dt.datetime) -> list[Clinical]:
    """A microneedling session before the plan's deferred start (isotretinoin, toxin, a tan...)."""
    plan, day = session.plan, timezone.localdate(start)
    if session.kind != SessionKind.MICRONEEDLING or plan.earliest_start <= plan.requested_start:
        return []
    if day >= plan.earliest_start:
        return []
    return [
        (
            ClinicalRule.DEFERRAL,
            f"{session.sequence_label} on {day:%d %b %Y} is before the deferred start of "
            f"{plan.earliest_start:%d %b %Y}",
        )
    ]


def _plan_rule_problems(
    session: PlanSession, start: dt.datetime, others: Iterable[PlanSession]
) -> tuple[list[str], list[Clinical]]:
    """(scheduling, clinical) problems for `session` at `start`, against the plan's other placed sessions."""
    tz = clinic_tz()
    rules = rules_for(session.plan)
    others = [o for o in others if o.id != session.id and o.is_occupying]
    me = scheduling.Placed(
        session.sequence,
        session.kind,
        start,
        start + dt.timedelta(minutes=session.duration_minutes + session.buffer_minutes),
        session.min_days_after_mn,
        session.min_days_before_mn,
    )
    window, clinical = _split_rule_problems(spec_for(session), start, [placed_for(o) for o in others], rules, tz)
    for later in (o for o in others if o.sequence > session.sequence):
        placed = [placed_for(o) for o in others if o.id != later.id] + [me]
        w, c = _split_rule_problems(spec_for(later), later.starts_at, placed, rules, tz)
        window, clinical = window + w, clinical + c
    return window, clinical + _deferral_problem(session, start)


def _is_clinician(user) -> bool:
    return bool(user) and user.has_perm("plans.make_clinical_decision")


def _needs_override(problems: Sequence[str], override_reason: str, clinical: Sequence[Clinical] = (), by=None) -> None:
    """Scheduling problems need a reason from anyone who books; clinical ones (a deferral, a
    washout) a reason from a clinician, and nobody else can give it (`needs_clinician`)."""
    if clinical and not _is_clinician(by):
        raise BookingError(
            "; ".join(text for _rule, text in clinical) + ". A clinician must decide: only a clinician may "
            "override a clinical rule.",
            code="needs_clinician",
        )
    every = [*problems, *(text for _rule, text in clinical)]
    if every and not override_reason.strip():
        raise NeedsOverride("; ".join(every) + ". Give a reason to override.")


def _record_clinical(session: PlanSession, clinical: Sequence[Clinical], reason: str, by) -> None:
    if clinical:
        ClinicalOverride.objects.bulk_create(
            [
                ClinicalOverride(
                    session=session, rule=rule, detail=text[:500], reason=reason.strip()[:500], by=by, at=_now()
                )
                for rule, text in clinical
            ]
        )


@locked_write
def session_book(
    *,
    session: PlanSession,
    starts_at: dt.datetime,
    practitioner: Practitioner,
    room: Room | None = None,
    override_reason: str = "",
    by=None,
) -> PlanSession:
    """Book one session at a chosen time (a click on the calendar). Room None: the first free room."""
    session, plan_sessions = _locked_session(session.pk)
    _lock([practitioner.id], [room.id if room else None], all_rooms=room is None)
    if room is None:
        room = _pick_room(session, starts_at)
    session._require("book", _now())
    _check_available(session, starts_at, practitioner, room)
    problems, clinical = _plan_rule_problems(session, starts_at, plan_sessions)
    _needs_override(problems, override_reason, clinical, by)
    session.book(starts_at=starts_at, practitioner=practitioner, room=room, now=_now(), override_reason=override_reason)
    if problems or clinical:
        session.window_override_reason = override_reason.strip()
    _save_checked([session], [])
    _record_clinical(session, clinical, override_reason, by)
    _rewindow_after_visits(plan_sessions)
    outbox.on_sessions_booked([session])
    log.info("session %s booked by %s", session.pk, by)
    return session


@dataclass(frozen=True)
class ShiftRequest:
    """A confirmed cascade shift as the browser sends it back."""

    session_id: int
    starts_at: dt.datetime


def _cascade_shifts(
    session: PlanSession,
    plan_sessions: Sequence[PlanSession],
    movable: Sequence[PlanSession],
    new_slot: scheduling.Slot,
    now: dt.datetime,
) -> list[scheduling.Shift]:
    """The later sessions that must move for `session` to take `new_slot`, as the rules need them now."""
    day = timezone.localdate(new_slot.start)
    horizon = max([day, *[s.latest for s in movable]]) + dt.timedelta(days=scheduling.NEAREST_SEARCH_DAYS)
    avail = availability_for(first=day, last=horizon, exclude_session_ids=[s.id for s in movable])
    schedule = [
        scheduling.Scheduled(
            spec_for(s),
            s.starts_at if s.is_occupying else None,
            s.blocked_until if s.is_occupying else None,
            s.practitioner_id,
            s.room_id,
            locked=not s.can("reschedule", now=now),
        )
        for s in plan_sessions
    ]
    shifts = scheduling.cascade(
        schedule, moved_key=session.id, new_slot=new_slot, availability=avail, rules=rules_for(session.plan)
    )
    shifts = _with_follow_up_shift(session, plan_sessions, new_slot, shifts, schedule, avail)
    return _with_anchored_shifts(session, plan_sessions, new_slot, shifts, schedule, avail)


def _last_mn(plan_sessions: Sequence[PlanSession]) -> PlanSession | None:
    mn = [s for s in plan_sessions if s.kind == SessionKind.MICRONEEDLING and s.status != SessionStatus.CANCELLED]
    return max(mn, key=lambda s: s.mn_number or 0, default=None)


def _with_follow_up_shift(session, plan_sessions, new_slot, shifts, schedule, avail) -> list[scheduling.Shift]:
    """When the last microneedling session moves, a booked follow-up moves with it, offered in
    the same cascade: it stays follow_up_days after the last session (the 12-week rule), never
    silently left where it was."""
    last = _last_mn(plan_sessions)
    moved_to = {s.session_key: s.new_slot for s in shifts} | {session.id: new_slot}
    if last is None or last.id not in moved_to or moved_to[last.id] is None:
        return shifts
    days = session.plan.params.follow_up_days
    target = timezone.localdate(moved_to[last.id].start) + dt.timedelta(days=days)
    item = next(
        (x for x in schedule if x.spec.kind == SessionKind.FOLLOW_UP and x.start is not None and not x.locked), None
    )
    if item is None or timezone.localdate(item.start) == target:
        return shifts
    slot = scheduling._nearest_same_time(item, target, [], avail)
    others = [s for s in shifts if s.session_key != item.spec.key]
    reason = f"{item.spec.label} must be {days} days after the last microneedling session"
    return [*others, scheduling.Shift(item.spec.key, item.spec.label, item.start, slot, reason, outside_window=False)]


def _after_window(visit: PlanSession, plan: TreatmentPlan, days: dict[int, dt.date]) -> tuple[dt.date, dt.date] | None:
    """The (first, last) day of a visit placed "after session k", from session k's date in
    `days` (mn_number -> date) and the combination's own gaps (the PIH check 2-4 weeks after
    session 1), ending before session k+1 by its washout; None for any other visit."""
    combo = next((c for c in plan.params.combinations if c.id == visit.combination_id), None)
    anchor = days.get(visit.anchor_mn) if visit.anchor_mn else None
    if combo is None or anchor is None:
        return None
    lo = anchor + dt.timedelta(days=max(combo.offset_days, combo.min_days_after_mn))
    hi = anchor + dt.timedelta(days=max(combo.offset_days, combo.end_offset_days, combo.min_days_after_mn))
    if (after := days.get(visit.anchor_mn + 1)) is not None:
        hi = min(hi, after - dt.timedelta(days=combo.min_days_before_mn))
    return lo, hi


def _mn_days(plan_sessions: Sequence[PlanSession]) -> dict[int, dt.date]:
    return {
        s.mn_number: s.local_date() for s in plan_sessions if s.kind == SessionKind.MICRONEEDLING and s.is_occupying
    }


def _with_anchored_shifts(session, plan_sessions, new_slot, shifts, schedule, avail) -> list[scheduling.Shift]:
    """When session k moves, a booked visit placed after it (the PIH check) is offered in the
    same cascade whenever its date would leave the combination's window after k's new date:
    never silently closer than its minimum gap, nor past its last day."""
    moved_to = {s.session_key: s.new_slot for s in shifts} | {session.id: new_slot}
    days = _mn_days(plan_sessions)
    for s in plan_sessions:
        if s.kind == SessionKind.MICRONEEDLING and moved_to.get(s.id) is not None:
            days[s.mn_number] = timezone.localdate(moved_to[s.id].start)
    moved_mn = {s.mn_number for s in plan_sessions if s.kind == SessionKind.MICRONEEDLING and s.id in moved_to}
    by_id = {s.id: s for s in plan_sessions}
    for item in schedule:
        visit = by_id[item.spec.key]
        if visit.anchor_mn not in moved_mn or item.start is None or item.locked or visit.id == session.id:
            continue
        window = _after_window(visit, session.plan, days)
        current = moved_to[visit.id].start if moved_to.get(visit.id) is not None else item.start
        if window is None or window[0] <= timezone.localdate(current) <= window[1]:
            continue
        lo, hi = window
        slot = scheduling._nearest_same_time(item, lo, [], avail)
        first, last = (lo - days[visit.anchor_mn]).days, (hi - days[visit.anchor_mn]).days
        reason = f"{item.spec.label} must be {first} to {last} days after microneedling session {visit.anchor_mn}"
        outside = slot is None or timezone.localdate(slot.start) > hi
        shifts = [
            *(s for s in shifts if s.session_key != visit.id),
            scheduling.Shift(visit.id, item.spec.label, item.start, slot, reason, outside_window=outside),
        ]
    return shifts


def _rewindow_after_visits(plan_sessions: Sequence[PlanSession]) -> None:
    """Unbooked visits placed "after session k" follow session k's booked date, with the
    combination's own gaps (the PIH check 2-4 weeks after session 1, not after its plan date).
    `plan_sessions`: locked by _lock_plan, with their new times already set."""
    plan = plan_sessions[0].plan if plan_sessions else None
    if plan is None:
        return
    days = _mn_days(plan_sessions)
    for visit in plan_sessions:
        window = _after_window(visit, plan, days) if visit.status == SessionStatus.PROPOSED else None
        if window is not None and window[0] <= window[1] and (visit.earliest, visit.latest) != window:
            visit.earliest, visit.target, visit.latest = window[0], window[0], window[1]
            visit.save(update_fields=["earliest", "target", "latest", "updated_at"])


def _retime_to_last_mn(follow_up: PlanSession, plan_sessions: Sequence[PlanSession], days: int) -> None:
    """The follow-up's window, kept its width, centred follow_up_days after the last session's time."""
    last = _last_mn(plan_sessions)
    if last is None or last.starts_at is None:
        return
    target = timezone.localdate(last.starts_at) + dt.timedelta(days=days)
    follow_up.earliest = target - (follow_up.target - follow_up.earliest)
    follow_up.latest = target + (follow_up.latest - follow_up.target)
    follow_up.target = target


def _confirm_cascade(shifts: Sequence[scheduling.Shift], cascade: Sequence[ShiftRequest] | None) -> None:
    """Shifts are written only once the user confirmed exactly these."""
    wanted = {(s.session_key, s.new_slot.start if s.new_slot else None) for s in shifts}
    if shifts and cascade is None:
        raise CascadeRequired(list(shifts))
    if cascade is not None and wanted != {(c.session_id, c.starts_at) for c in cascade}:
        raise CascadeRequired(list(shifts), "The schedule changed: review the proposed shifts again.")
    missing = next((s for s in shifts if s.new_slot is None), None)
    if missing is not None:
        raise BookingError(f"{missing.label}: no free slot near the date it would need ({missing.reason}).")


def _move_problems(
    session: PlanSession, plan_sessions: Sequence[PlanSession], starts_at: dt.datetime, shifts
) -> tuple[list[str], list[str], list[Clinical]]:
    """(scheduling problems of the moved session, sessions the cascade pushes past their window,
    clinical problems of the moved session)."""
    earlier = [s for s in plan_sessions if s.sequence < session.sequence and s.is_occupying]
    problems, clinical = _split_rule_problems(
        spec_for(session), starts_at, [placed_for(s) for s in earlier], rules_for(session.plan), clinic_tz()
    )
    outside = [f"{s.label} would move past its latest date" for s in shifts if s.outside_window]
    return problems, outside, clinical + _deferral_problem(session, starts_at)


def _slot(session: PlanSession, practitioner: Practitioner, room: Room, starts_at: dt.datetime) -> scheduling.Slot:
    end = starts_at + dt.timedelta(minutes=session.duration_minutes)
    return scheduling.Slot(practitioner.id, room.id, starts_at, end, end + dt.timedelta(minutes=session.buffer_minutes))


@dataclass(frozen=True)
class Move:
    """Where the requested session goes, and why it may (the override, if the rules needed one)."""

    starts_at: dt.datetime
    practitioner: Practitioner
    room: Room
    override_reason: str
    overridden: bool


def _apply_moves(session: PlanSession, move: Move, shifts, plan_sessions, now: dt.datetime) -> list[PlanSession]:
    session.reschedule(
        starts_at=move.starts_at,
        practitioner=move.practitioner,
        room=move.room,
        now=now,
        override_reason=move.override_reason,
    )
    if move.overridden:
        session.window_override_reason = move.override_reason.strip()
    by_id = {s.id: s for s in plan_sessions}
    rooms = Room.objects.in_bulk({s.new_slot.room_id for s in shifts})
    moved = [session]
    days = session.plan.params.follow_up_days
    for shift in shifts:
        other = by_id[shift.session_key]
        if other.kind == SessionKind.FOLLOW_UP:
            _retime_to_last_mn(other, plan_sessions, days)
        elif (window := _after_window(other, session.plan, _mn_days(plan_sessions))) and window[0] <= window[1]:
            # A booked visit after session k moved with it: its window follows k's new date too.
            other.earliest, other.target, other.latest = window[0], window[0], window[1]
        other.reschedule(
            starts_at=shift.new_slot.start,
            practitioner=other.practitioner,
            room=rooms[shift.new_slot.room_id],
            now=now,
            override_reason=move.override_reason,
        )
        moved.append(other)
    _save_checked(moved, [m.id for m in moved])
    if _last_mn(plan_sessions) in moved:
        # An unbooked follow-up follows the last session's real date too, ready for auto-fit.
        for proposed in (
            s for s in plan_sessions if s.kind == SessionKind.FOLLOW_UP and s.status == SessionStatus.PROPOSED
        ):
            _retime_to_last_mn(proposed, plan_sessions, days)
            proposed.save(update_fields=["earliest", "target", "latest", "updated_at"])
    _rewindow_after_visits(plan_sessions)
    for m in moved:
        outbox.on_session_rescheduled(m)
    return moved


@locked_write
def session_reschedule(
    *,
    session: PlanSession,
    starts_at: dt.datetime,
    practitioner: Practitioner,
    room: Room | None = None,
    cascade: Sequence[ShiftRequest] | None = None,
    override_reason: str = "",
    by=None,
) -> list[PlanSession]:
    """Move a booked session; later sessions move only on confirmation (`cascade`).

    Without `cascade`, a move that needs later sessions shifted raises CascadeRequired
    with the proposed shifts and writes nothing. With `cascade`, the shifts must equal
    what the rules need now (else CascadeRequired again with the fresh list). A move or
    shift outside a window, or against an interval or washout, needs `override_reason`.
    Returns every session moved, the requested one first.
    """
    session, plan_sessions = _locked_session(session.pk)
    now = _now()  # read once the lock is held: times follow the order writes took effect
    session._require("reschedule", now)
    movable = [s for s in plan_sessions if s.can("reschedule", now=now) and s.sequence >= session.sequence]
    any_room = room is None
    if any_room:
        # Any free room: lock them all first (one _lock per write) and choose under the lock.
        _lock([practitioner.id, *[s.practitioner_id for s in movable]], [], all_rooms=True)
        room = _pick_room(session, starts_at, ignore=[s.id for s in movable])
    shifts = _cascade_shifts(session, plan_sessions, movable, _slot(session, practitioner, room, starts_at), now)
    _confirm_cascade(shifts, cascade)
    problems, outside, clinical = _move_problems(session, plan_sessions, starts_at, shifts)
    _needs_override(problems + outside, override_reason, clinical, by)
    _check_available(session, starts_at, practitioner, room)
    if not any_room:
        # The rows the moves need are known only now; _save_checked re-checks under these locks.
        _lock(
            [practitioner.id, *[s.new_slot.practitioner_id for s in shifts]],
            [room.id, *[s.new_slot.room_id for s in shifts]],
        )
    move = Move(starts_at, practitioner, room, override_reason, overridden=bool(problems or clinical))
    held = {s.pk: (s.starts_at, s.blocked_until, s.practitioner_id) for s in plan_sessions if s.starts_at}
    moved = _apply_moves(session, move, shifts, plan_sessions, now)
    _record_clinical(session, clinical, override_reason, by)
    # Imported here: the waitlist builds on this module. The times the moved sessions held are
    # free now, whoever moved them (staff, the client, a waitlist offer taken): offered to the
    # waitlist in this transaction, as a cancellation's time is.
    from plans.services import waitlist

    waitlist.slot_freed(
        freed=[waitlist.Freed(held[m.pk][0], held[m.pk][1], (held[m.pk][2],)) for m in moved if m.pk in held],
        now=now,
    )
    log.info("session %s moved (%d shifted) by %s", session.pk, len(moved) - 1, by)
    return moved


@locked_write
def session_cancel(*, session: PlanSession, by_client: bool, reason: str, by=None) -> PlanSession:
    session, _ = _locked_session(session.pk)
    held = session.status == SessionStatus.BOOKED and session.starts_at is not None
    session.cancel(by_client=by_client, reason=reason, now=_now())
    session.save()
    outbox.on_session_cancelled(session)
    if held:
        # Imported here: the waitlist builds on this module. In this transaction, so a cancellation
        # and the offers of the time it frees are written (and rolled back) together.
        from plans.services import waitlist

        waitlist.on_session_cancelled(
            session,
            practitioner_id=session.practitioner_id,
            starts_at=session.starts_at,
            blocked_until=session.blocked_until,
        )
    log.info("session %s cancelled (client=%s) by %s", session.pk, by_client, by)
    return session


class AlreadyDone(BookingError):
    """Someone else recorded the same step a moment earlier (two taps on two tablets)."""

    code = "already_done"


@locked_write
def session_check_in(*, session: PlanSession, by=None) -> PlanSession:
    """The client has arrived. Under the plan lock, so of two taps at once one records the
    arrival and the other is told who did (AlreadyDone, answered 409)."""
    session, _ = _locked_session(session.pk)
    if session.checked_in_at:
        raise AlreadyDone(session.refusal("check_in", now=_now()))
    session.check_in(now=_now(), by=by)
    session.save(update_fields=["checked_in_at", "checked_in_by", "updated_at"])
    log.info("session %s checked in by %s", session.pk, by)
    return session


@locked_write
def session_start(*, session: PlanSession, by=None) -> PlanSession:
    """Treatment begins. A microneedling session needs the client's current pre-session check
    first, the same rule completion keeps, so nobody needles on stale answers."""
    session, _ = _locked_session(session.pk)
    now = _now()  # read once the lock is held: times follow the order writes took effect
    if session.started_at:
        raise AlreadyDone(session.refusal("start", now=now))
    session._require("start", now)
    if session.kind == SessionKind.MICRONEEDLING:
        _require_current_check(session, now, before="starting")
    session.start(now=now, by=by)
    session.save(update_fields=["started_at", "started_by", "updated_at"])
    log.info("session %s started by %s", session.pk, by)
    return session


@locked_write
def session_mark_no_show(*, session: PlanSession, by=None) -> PlanSession:
    session, _ = _locked_session(session.pk)
    session.mark_no_show(now=_now())
    session.save()
    log.info("session %s no-show, marked by %s", session.pk, by)
    return session


@dataclass(frozen=True)
class RecordInput:
    """What the practitioner records of a microneedling session before signing it off."""

    device: Device
    cartridge: Lot
    zones: Mapping[str, Decimal]  # zone name -> depth used; zones left out were not treated
    passes: int
    endpoint: str
    product: Lot | None = None
    anaesthetic: str = ""
    anaesthetic_minutes: int | None = None
    immediate_reaction: str = ""
    notes: str = ""


# The one zone of a plan whose protocol lists none (snapshots from before per-zone caps).
WHOLE_FACE = "treatment area"


def record_zones(session: PlanSession) -> list[tuple[str, Decimal]]:
    """(zone, cap) the record form asks for: the plan's zones with their caps as they apply."""
    params = session.plan.params
    return [(z.zone, z.cap_mm) for z in params.zones_capped] or [(WHOLE_FACE, params.depth_cap_mm)]


@locked_write
def session_complete(
    *,
    session: PlanSession,
    record: RecordInput | None = None,
    notes: str = "",
    above_plan_reason: str = "",
    pih_result: str = "",
    by=None,
) -> PlanSession:
    """Record a session as done. A microneedling session is completed by signing off its
    treatment record (`record`): device, lot, depth per zone...; its depth_used_mm is the
    deepest zone. An assessment visit records what it found (`pih_result`), and anything but
    "none" becomes an adverse event. Completing the last microneedling session re-times the
    follow-up assessment's window from the actual date (follow_up_days from the snapshot).

    Preconditions, one small call each, in order. A microneedling session needs a current
    pre-session check and a treatment consent in force. A zone deeper than its cap, than the
    session's planned depth or than the lower cap a clinician adopted for the plan
    (plan.clinical_depth_cap_mm) needs a clinician's reason (`above_plan_reason`), recorded as a
    clinical override."""
    session, plan_sessions = _locked_session(session.pk)
    now = _now()  # read once the lock is held: times follow the order writes took effect
    params = session.plan.params
    session._require("complete", now)
    if session.kind == SessionKind.MICRONEEDLING:
        _require_current_check(session, now)
        _require_treatment_consent(session, now)
        record = _require_record(session, record, by)
        _require_usable_kit(record, now)
    clinical = _zone_problems(session, record) if record else []
    _require_clinician_reason(clinical, above_plan_reason, by)
    pih_result = _require_assessment_result(session, pih_result)
    session.complete(
        depth_used_mm=max(record.zones.values()) if record else None,
        notes=notes,
        depth_cap_mm=params.depth_cap_mm,
        now=now,
        above_plan_reason=above_plan_reason if clinical else "",
    )
    session.save()
    if record:
        _write_record(session, record, by, now)
    _record_clinical(session, clinical, above_plan_reason, by)
    if pih_result != CheckResult.NONE:
        # Imported here: services/records.py builds on this module's lock helpers.
        from plans.services.records import adverse_event_from_check

        adverse_event_from_check(session=session, severity=pih_result, by=by, now=now)
    if session.kind == SessionKind.MICRONEEDLING:
        _retime_follow_up(session, plan_sessions, params.follow_up_days)
    outbox.on_session_completed(session)
    log.info("session %s completed by %s", session.pk, by)
    return session


def _require_record(session: PlanSession, record: RecordInput | None, by) -> RecordInput:
    if record is None:
        raise BookingError(
            f"Fill in and sign off the treatment record to complete {session.title}.", code="needs_record"
        )
    if by is None:
        raise BookingError("A treatment record is signed off by the practitioner who did it.", code="invalid")
    allowed = {zone for zone, _cap in record_zones(session)}
    if unknown := sorted(set(record.zones) - allowed):
        raise BookingError(f"This plan has no zone {', '.join(unknown)}.", code="invalid")
    if not record.zones:
        raise BookingError("Record the depth used on at least one zone.", code="invalid")
    if any(depth <= 0 for depth in record.zones.values()):
        raise BookingError("A zone's depth must be above 0 mm.", code="invalid")
    cap = session.plan.params.depth_cap_mm
    if over := [f"{zone} {mm(depth)} mm" for zone, depth in record.zones.items() if depth > cap]:
        # No reason lifts the protocol's own cap (PlanSession.complete refuses it too).
        raise BookingError(f"{', '.join(over)}: above the protocol's cap of {mm(cap)} mm.", code="illegal")
    if not 1 <= record.passes <= 10:
        raise BookingError("Passes are counted from 1 to 10.", code="invalid")
    if record.endpoint not in Endpoint.values:
        raise BookingError("Choose the clinical endpoint reached.", code="invalid")
    if record.anaesthetic.strip() and not record.anaesthetic_minutes:
        raise BookingError("Give the topical anaesthetic's contact time in minutes.", code="invalid")
    return record


def _require_usable_kit(record: RecordInput, now: dt.datetime) -> None:
    """An expired or recalled lot is refused (read again: a recall may have just landed)."""
    today = timezone.localdate(now)
    if record.cartridge.kind != LotKind.CARTRIDGE or (record.product and record.product.kind != LotKind.PRODUCT):
        raise BookingError("Choose a needle cartridge lot and, if used, a product lot.", code="invalid")
    for lot in Lot.objects.filter(pk__in=[x.pk for x in (record.cartridge, record.product) if x]):
        if reason := lot.refusal(today=today):
            raise BookingError(reason, code="lot_refused")


def _zone_problems(session: PlanSession, record: RecordInput) -> list[Clinical]:
    """Zones deeper than their cap, than the session's plan or than the cap a clinician adopted
    for the plan (PlanSession.depth_rules_broken): a clinician's decision each. Deeper than the
    protocol's own cap is refused outright by PlanSession.complete."""
    caps = dict(record_zones(session))
    problems: list[Clinical] = []
    for zone, depth in record.zones.items():
        if depth > caps[zone]:
            problems.append(
                (ClinicalRule.ZONE_ABOVE_CAP, f"{zone}: {mm(depth)} mm is above its cap of {mm(caps[zone])} mm")
            )
        problems += [(rule, f"{zone}: {detail}") for rule, detail in session.depth_rules_broken(depth)]
    return problems


def _require_clinician_reason(clinical: Sequence[Clinical], reason: str, by) -> None:
    if not clinical:
        return
    problems = "; ".join(text for _rule, text in clinical)
    if not _is_clinician(by):
        raise BookingError(
            f"{problems}: a clinician must decide, and only a clinician may give the reason.", code="needs_clinician"
        )
    if not reason.strip():
        raise BookingError(f"{problems}: give the clinician's reason.", code="needs_clinician")


def _require_assessment_result(session: PlanSession, result: str) -> str:
    """An assessment visit (the PIH check) records what it saw: none, mild, moderate or severe."""
    if not session.is_assessment:
        return CheckResult.NONE
    if result not in CheckResult.values:
        raise BookingError(f"Record what the {session.title} found: none, mild, moderate or severe.", code="invalid")
    return result


def _write_record(session: PlanSession, record: RecordInput, by, now: dt.datetime) -> TreatmentRecord:
    try:
        with transaction.atomic():
            written = TreatmentRecord.objects.create(
                session=session,
                device=record.device,
                device_overdue=record.device.is_overdue(today=timezone.localdate(now)),
                cartridge=record.cartridge,
                product=record.product,
                passes=record.passes,
                anaesthetic=record.anaesthetic.strip(),
                anaesthetic_minutes=record.anaesthetic_minutes if record.anaesthetic.strip() else None,
                endpoint=record.endpoint,
                immediate_reaction=record.immediate_reaction.strip(),
                notes=record.notes.strip(),
                signed_by=by,
                signed_at=now,
            )
            ZoneDepth.objects.bulk_create(
                [ZoneDepth(record=written, zone=zone, depth_mm=depth) for zone, depth in record.zones.items()]
            )
    except IntegrityError as exc:
        # The session row is locked, so only a record written outside this service gets here.
        raise BookingError("This session already has a signed record: add an addendum.", code="illegal") from exc
    return written


def _require_current_check(session: PlanSession, now: dt.datetime, *, before: str = "completing") -> None:
    check = PreSessionCheck.objects.filter(client_id=session.plan.client_id).order_by("-recorded_at").first()
    if check is None or not check.is_current(now=now):
        raise BookingError(
            f"Record the pre-session check before {before} {session.title}: the client's answers about "
            f"changes since the last visit must be from the last {settings.PRE_SESSION_CHECK_VALID_DAYS} days.",
            code="needs_pre_session_check",
        )


def _require_treatment_consent(session: PlanSession, now: dt.datetime) -> None:
    """No microneedling without a treatment consent in force (signed, not withdrawn)."""
    if SignedConsent.objects.current(client_id=session.plan.client_id, kind=ConsentKind.TREATMENT) is None:
        withdrawn = session.plan.client.treatment_consent_withdrawn_at
        why = "withdrew their treatment consent" if withdrawn else "has no signed treatment consent on file"
        raise BookingError(
            f"{session.title} cannot be completed: the client {why}. Ask them to sign the consent first "
            "(on the client's page, in the clinic).",
            code="needs_consent",
        )


def _retime_follow_up(session: PlanSession, plan_sessions: Sequence[PlanSession], days: int) -> None:
    """`plan_sessions`: the plan's sessions, already locked by _lock_plan."""
    others = [s for s in plan_sessions if s.id != session.id]
    still_to_do = (SessionStatus.PROPOSED, SessionStatus.BOOKED)
    if any(s.kind == SessionKind.MICRONEEDLING and s.status in still_to_do for s in others):
        return
    done_on = timezone.localdate(session.starts_at)
    follow_ups = sorted(
        (s for s in others if s.kind == SessionKind.FOLLOW_UP and s.status == SessionStatus.PROPOSED),
        key=lambda s: s.target,
    )
    if not follow_ups:
        return
    # The final assessment lands follow_up_days after the last session; a later review visit
    # (e.g. at 6 months) keeps its distance from it. Windows keep their width around the target.
    shift = done_on + dt.timedelta(days=days) - follow_ups[0].target
    for follow_up in follow_ups:
        follow_up.earliest += shift
        follow_up.target += shift
        follow_up.latest += shift
        follow_up.save(update_fields=["earliest", "target", "latest", "updated_at"])


def practitioner_feed_regenerate(*, practitioner: Practitioner, by=None) -> Practitioner:
    """A new secret for the practitioner's iCalendar feed: the old URL stops working at once."""
    from plans.models import _new_feed_token

    practitioner.feed_token = _new_feed_token()
    practitioner.save(update_fields=["feed_token"])
    log.info("feed token of practitioner %s regenerated by %s", practitioner.pk, by)
    return practitioner
