"""Booking writes: whole-series fit and book, single booking, reschedule with cascade,
cancel, no-show, complete.

Never double-booked, on both backends: every write locks the practitioner and room
rows it touches (fixed order: practitioners by id, then rooms by id) and re-checks
overlap under that lock; on SQLite the IMMEDIATE transaction serialises writers, and on
PostgreSQL an exclusion constraint (migration 0002) is the last word, its
IntegrityError translated to the same SlotTaken.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from plans import outbox, scheduling
from plans.models import (
    IllegalTransition,
    PlanSession,
    PlanStatus,
    Practitioner,
    Room,
    SessionKind,
    SessionStatus,
    TimeOff,
    TreatmentPlan,
    WorkingHours,
)

log = logging.getLogger(__name__)

OCCUPYING = (SessionStatus.BOOKED, SessionStatus.COMPLETED)
# Sessions of a plan that auto-fit places: never booked, or booked and then cancelled or
# missed (PlanSession.book accepts all three and raises the version for a re-booking).
TO_FIT = (SessionStatus.PROPOSED, SessionStatus.CANCELLED, SessionStatus.NO_SHOW)
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


class BookingError(Exception):
    """A booking request the rules refuse; the message is for staff."""


class SlotTaken(BookingError):
    """The practitioner or room is already booked then."""


class CascadeRequired(BookingError):
    """Moving this session needs later sessions moved too: confirm these shifts."""

    def __init__(self, shifts: list[scheduling.Shift], message: str = ""):
        self.shifts = shifts
        super().__init__(message or "Moving this session moves later sessions too: confirm the proposed shifts.")


def clinic_tz() -> ZoneInfo:
    return ZoneInfo(settings.CLINIC_TIME_ZONE)


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
    # A cancelled or missed session whose window is over is left to be booked by hand (with
    # a window override): offering it would block the whole series from being proposed.
    todo = [s for s in sessions if s.status == SessionStatus.PROPOSED or (s.status in TO_FIT and s.latest >= today)]
    placed = [placed_for(s) for s in sessions if s.status in OCCUPYING]
    if plan.status != PlanStatus.ACTIVE:
        raise BookingError(f"The plan is {plan.get_status_display().lower()}: nothing to book.")
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


def _lock(practitioner_ids: Iterable[int], room_ids: Iterable[int]) -> None:
    """Row locks in a fixed order (practitioners by id, then rooms by id) so two writers never deadlock."""
    list(Practitioner.objects.select_for_update().filter(id__in=sorted(set(practitioner_ids))).order_by("id"))
    list(Room.objects.select_for_update().filter(id__in=sorted({r for r in room_ids if r})).order_by("id"))


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
            same = a.practitioner_id == b.practitioner_id or (a.room_id and a.room_id == b.room_id)
            if same and a.starts_at < b.blocked_until and b.starts_at < a.blocked_until:
                raise SlotTaken(f"Slot taken: {a.sequence_label} and {b.sequence_label} overlap.")
    try:
        with transaction.atomic():
            for s in sessions:
                s.save()
    except IntegrityError as exc:
        if "no_overlap" in str(exc):
            raise SlotTaken("Slot taken: someone booked that practitioner or room at the same moment.") from exc
        raise


def series_book(*, plan: TreatmentPlan, proposal: Sequence[scheduling.ProposedBooking], by=None) -> list[PlanSession]:
    """Book every proposed slot of `plan` in one transaction: all or nothing.

    A session cancelled or missed earlier is booked again like a proposed one."""
    if not proposal:
        raise BookingError("Nothing to book: the proposal is empty.")
    now = _now()
    try:
        with transaction.atomic():
            plan = TreatmentPlan.objects.select_for_update().get(pk=plan.pk)
            _lock([b.slot.practitioner_id for b in proposal], [b.slot.room_id for b in proposal])
            sessions = {s.id: s for s in plan.sessions.select_for_update().order_by("sequence")}
            practitioners = Practitioner.objects.in_bulk([b.slot.practitioner_id for b in proposal])
            rooms = Room.objects.in_bulk([b.slot.room_id for b in proposal])
            booked: list[PlanSession] = []
            for b in sorted(
                proposal, key=lambda b: sessions[b.session_key].sequence if b.session_key in sessions else 0
            ):
                session = sessions.get(b.session_key)
                if session is None:
                    raise BookingError("The proposal names a session of another plan.")
                if session.status not in TO_FIT:
                    raise BookingError(f"{session.sequence_label} is already {session.get_status_display().lower()}.")
                if b.slot.practitioner_id not in practitioners:
                    raise BookingError("The proposal names a practitioner who does not exist.")
                # Against earlier sessions and, for a re-booked one, the later ones still booked;
                # sessions of this proposal count as they are booked in sequence order.
                problems = _plan_rule_problems(session, b.slot.start, sessions.values())
                if problems:
                    raise BookingError("; ".join(problems))
                _check_available(
                    session, b.slot.start, practitioners[b.slot.practitioner_id], rooms.get(b.slot.room_id)
                )
                session.book(
                    starts_at=b.slot.start,
                    practitioner=practitioners[b.slot.practitioner_id],
                    room=rooms.get(b.slot.room_id),
                    now=now,
                )
                booked.append(session)
            _save_checked(booked, [])
            outbox.on_sessions_booked(booked)
    except IllegalTransition as exc:
        raise BookingError(str(exc)) from exc
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
        raise BookingError(f"{practitioner} cannot take {session.sequence_label} then: {'; '.join(reasons)}.")


def _pick_room(session: PlanSession, start: dt.datetime, ignore: Iterable[int] = ()) -> Room:
    until = start + dt.timedelta(minutes=session.duration_minutes + session.buffer_minutes)
    day = timezone.localdate(start)
    avail = availability_for(first=day, last=day, exclude_session_ids=[session.id, *ignore])
    for room in avail.rooms:
        if scheduling._clear([*room.busy, *room.closures], start, until):
            return Room.objects.get(pk=room.id)
    raise SlotTaken("Slot taken: every room is booked or closed then.")


def _plan_rule_problems(session: PlanSession, start: dt.datetime, others: Iterable[PlanSession]) -> list[str]:
    """Interval and washout problems for `session` at `start`, against the plan's other placed sessions."""
    tz = clinic_tz()
    rules = rules_for(session.plan)
    others = [o for o in others if o.id != session.id and o.status in OCCUPYING]
    me = scheduling.Placed(
        session.sequence,
        session.kind,
        start,
        start + dt.timedelta(minutes=session.duration_minutes + session.buffer_minutes),
        session.min_days_after_mn,
        session.min_days_before_mn,
    )
    problems = scheduling.check_rules(spec_for(session), start, [placed_for(o) for o in others], rules, tz)
    for later in (o for o in others if o.sequence > session.sequence):
        placed = [placed_for(o) for o in others if o.id != later.id] + [me]
        problems += scheduling.check_rules(spec_for(later), later.starts_at, placed, rules, tz)
    return problems


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
    try:
        with transaction.atomic():
            session = PlanSession.objects.select_for_update().select_related("plan").get(pk=session.pk)
            if room is None:
                room = _pick_room(session, starts_at)
            _lock([practitioner.id], [room.id])
            _check_available(session, starts_at, practitioner, room)
            problems = _plan_rule_problems(session, starts_at, session.plan.sessions.all())
            if problems and not override_reason.strip():
                raise BookingError("; ".join(problems) + ". Give a reason to override.")
            session.book(
                starts_at=starts_at, practitioner=practitioner, room=room, now=_now(), override_reason=override_reason
            )
            if problems:
                session.window_override_reason = override_reason.strip()
            _save_checked([session], [])
            outbox.on_sessions_booked([session])
    except IllegalTransition as exc:
        raise BookingError(str(exc)) from exc
    log.info("session %s booked by %s", session.pk, by)
    return session


@dataclass(frozen=True)
class ShiftRequest:
    """A confirmed cascade shift as the browser sends it back."""

    session_id: int
    starts_at: dt.datetime


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
    tz = clinic_tz()
    try:
        with transaction.atomic():
            session = PlanSession.objects.select_for_update().select_related("plan").get(pk=session.pk)
            plan_sessions = list(session.plan.sessions.select_for_update().order_by("sequence"))
            if session.status != SessionStatus.BOOKED:
                raise IllegalTransition(
                    f"Only a booked session can be moved; {session.title} is {session.get_status_display().lower()}."
                )
            movable = [s for s in plan_sessions if s.status == SessionStatus.BOOKED and s.sequence >= session.sequence]
            if room is None:
                room = _pick_room(session, starts_at, ignore=[s.id for s in movable])
            day = timezone.localdate(starts_at)
            horizon = max([day, *[s.latest for s in movable]]) + dt.timedelta(days=scheduling.NEAREST_SEARCH_DAYS)
            avail = availability_for(first=day, last=horizon, exclude_session_ids=[s.id for s in movable])
            new_slot = scheduling.Slot(
                practitioner.id,
                room.id,
                starts_at,
                starts_at + dt.timedelta(minutes=session.duration_minutes),
                starts_at + dt.timedelta(minutes=session.duration_minutes + session.buffer_minutes),
            )
            schedule = [
                scheduling.Scheduled(
                    spec_for(s),
                    s.starts_at if s.status in OCCUPYING else None,
                    s.blocked_until if s.status in OCCUPYING else None,
                    s.practitioner_id,
                    s.room_id,
                    locked=s.status != SessionStatus.BOOKED,
                )
                for s in plan_sessions
            ]
            shifts = scheduling.cascade(
                schedule, moved_key=session.id, new_slot=new_slot, availability=avail, rules=rules_for(session.plan)
            )
            wanted = {(s.session_key, s.new_slot.start if s.new_slot else None) for s in shifts}
            if shifts and cascade is None:
                raise CascadeRequired(shifts)
            if cascade is not None and wanted != {(c.session_id, c.starts_at) for c in cascade}:
                raise CascadeRequired(shifts, "The schedule changed: review the proposed shifts again.")
            if any(s.new_slot is None for s in shifts):
                missing = next(s for s in shifts if s.new_slot is None)
                raise BookingError(f"{missing.label}: no free slot near the date it would need ({missing.reason}).")
            earlier = [s for s in plan_sessions if s.sequence < session.sequence and s.status in OCCUPYING]
            problems = scheduling.check_rules(
                spec_for(session), starts_at, [placed_for(s) for s in earlier], rules_for(session.plan), tz
            )
            outside = [s for s in shifts if s.outside_window]
            if (problems or outside) and not override_reason.strip():
                why = problems + [f"{s.label} would move past its latest date" for s in outside]
                raise BookingError("; ".join(why) + ". Give a reason to override.")
            _check_available(session, starts_at, practitioner, room)
            by_id = {s.id: s for s in plan_sessions}
            moved_rooms = {s.new_slot.room_id for s in shifts}
            _lock(
                [practitioner.id, *[s.new_slot.practitioner_id for s in shifts]],
                [room.id, *moved_rooms],
            )
            now = _now()
            session.reschedule(
                starts_at=starts_at, practitioner=practitioner, room=room, now=now, override_reason=override_reason
            )
            if problems:
                session.window_override_reason = override_reason.strip()
            moved = [session]
            rooms = Room.objects.in_bulk(moved_rooms)
            for shift in shifts:
                other = by_id[shift.session_key]
                other.reschedule(
                    starts_at=shift.new_slot.start,
                    practitioner=other.practitioner,
                    room=rooms[shift.new_slot.room_id],
                    now=now,
                    override_reason=override_reason,
                )
                moved.append(other)
            _save_checked(moved, [m.id for m in moved])
            for m in moved:
                outbox.on_session_rescheduled(m)
    except IllegalTransition as exc:
        raise BookingError(str(exc)) from exc
    log.info("session %s moved (%d shifted) by %s", session.pk, len(moved) - 1, by)
    return moved


def session_cancel(*, session: PlanSession, by_client: bool, reason: str, by=None) -> PlanSession:
    with transaction.atomic():
        session = PlanSession.objects.select_for_update().get(pk=session.pk)
        try:
            session.cancel(by_client=by_client, reason=reason, now=_now())
        except IllegalTransition as exc:
            raise BookingError(str(exc)) from exc
        session.save()
        outbox.on_session_cancelled(session)
    log.info("session %s cancelled (client=%s) by %s", session.pk, by_client, by)
    return session


def session_mark_no_show(*, session: PlanSession, by=None) -> PlanSession:
    with transaction.atomic():
        session = PlanSession.objects.select_for_update().get(pk=session.pk)
        try:
            session.mark_no_show(now=_now())
        except IllegalTransition as exc:
            raise BookingError(str(exc)) from exc
        session.save()
    log.info("session %s no-show, marked by %s", session.pk, by)
    return session


def session_complete(
    *,
    session: PlanSession,
    depth_used_mm: Decimal | None,
    notes: str = "",
    pore_score: int | None = None,
    by=None,
) -> PlanSession:
    """Record a session as done. Completing the last microneedling session re-times the
    follow-up assessment's window from the actual date (follow_up_days from the snapshot)."""
    now = _now()
    with transaction.atomic():
        session = PlanSession.objects.select_for_update().select_related("plan").get(pk=session.pk)
        params = session.plan.params
        try:
            session.complete(
                depth_used_mm=depth_used_mm,
                notes=notes,
                pore_score=pore_score,
                depth_cap_mm=params.depth_cap_mm,
                now=now,
            )
        except IllegalTransition as exc:
            raise BookingError(str(exc)) from exc
        session.save()
        if session.kind == SessionKind.MICRONEEDLING:
            _retime_follow_up(session, params.follow_up_days)
        outbox.on_session_completed(session)
    log.info("session %s completed by %s", session.pk, by)
    return session


def _retime_follow_up(session: PlanSession, days: int) -> None:
    remaining = session.plan.sessions.filter(
        kind=SessionKind.MICRONEEDLING, status__in=[SessionStatus.PROPOSED, SessionStatus.BOOKED]
    ).exclude(id=session.id)
    if remaining.exists():
        return
    done_on = timezone.localdate(session.starts_at)
    for follow_up in session.plan.sessions.select_for_update().filter(
        kind=SessionKind.FOLLOW_UP, status=SessionStatus.PROPOSED
    ):
        # Keep the window's width, centred where it was, on the new target.
        target = done_on + dt.timedelta(days=days)
        follow_up.earliest = target - (follow_up.target - follow_up.earliest)
        follow_up.latest = target + (follow_up.latest - follow_up.target)
        follow_up.target = target
        follow_up.save(update_fields=["earliest", "target", "latest", "updated_at"])


def practitioner_feed_regenerate(*, practitioner: Practitioner, by=None) -> Practitioner:
    """A new secret for the practitioner's iCalendar feed: the old URL stops working at once."""
    from plans.models import _new_feed_token

    practitioner.feed_token = _new_feed_token()
    practitioner.save(update_fields=["feed_token"])
    log.info("feed token of practitioner %s regenerated by %s", practitioner.pk, by)
    return practitioner
