"""Rebooking a cancelled or missed session in one tap: the nearest free slots that keep its plan.

Read-only: the offers are booked through the ordinary session_book service, which checks
everything again under its locks (an offer may be taken by someone else meanwhile).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from plans import scheduling
from plans.models import PlanSession
from plans.services import booking

# Offers shown; the previous practitioner's come first.
OFFERS = 6
PREFERRED_OFFERS = 3


@dataclass(frozen=True)
class RebookOffer:
    start: dt.datetime
    practitioner_id: int
    practitioner: str
    room_id: int
    room: str
    preferred: bool  # with the practitioner the client saw before
    days_off_target: int

    @property
    def wall(self) -> str:
        """The time as the booking form reads it: clinic-local, no offset."""
        return timezone.localtime(self.start).strftime("%Y-%m-%dT%H:%M")


def _previous_practitioner(session: PlanSession, sessions: list[PlanSession]) -> int | None:
    if session.practitioner_id:
        return session.practitioner_id
    seen = [s for s in sessions if s.is_occupying and s.practitioner_id]
    return max(seen, key=lambda s: s.starts_at).practitioner_id if seen else None


def rebook_offers(*, session: PlanSession, now: dt.datetime | None = None) -> list[RebookOffer]:
    """Up to OFFERS free slots for `session` inside its window, nearest its target first,
    keeping the intervals and washouts with the plan's other booked sessions, the previous
    practitioner's first. Six queries (the plan's sessions, then availability) whatever the
    clinic's size; none when the session cannot be booked."""
    now = now or timezone.now()
    if not session.can("book", now=now):
        return []
    plan = session.plan
    tz = booking.clinic_tz()
    sessions = list(plan.sessions.order_by("sequence"))
    placed = [booking.placed_for(s) for s in sessions if s.is_occupying and s.pk != session.pk]
    spec = booking.spec_for(session)
    rules = booking.rules_for(plan)
    bounds = scheduling.date_bounds(spec, placed, rules, tz)
    first, last = max(bounds.first, timezone.localdate(now)), bounds.last
    if first > last:
        return []
    preferred = _previous_practitioner(session, sessions)
    availability = booking.availability_for(first=first, last=last, not_before=now)
    names = {p.id: p.name for p in availability.practitioners}
    rooms = {r.id: r.name for r in availability.rooms}
    others = [p for p in names if p != preferred]

    def accept(slot: scheduling.Slot) -> bool:
        return scheduling.keeps_plan(slot, spec, placed, rules, tz)

    def first_on(day: dt.date, ids: list[int]) -> scheduling.Slot | None:
        if not ids:
            return None
        return scheduling.first_slot(
            availability,
            day,
            duration_minutes=spec.duration_minutes,
            buffer_minutes=spec.buffer_minutes,
            practitioner_ids=ids,
            accept=accept,
        )

    mine: list[scheduling.Slot] = []
    theirs: list[scheduling.Slot] = []
    # One offer per day and group, nearest the target first: days matter to the plan, the hour to the client.
    for day in sorted(scheduling.daterange(first, last), key=lambda d: (abs((d - spec.target).days), d)):
        if preferred in names and len(mine) < OFFERS and (slot := first_on(day, [preferred])):
            mine.append(slot)
        if len(theirs) < OFFERS and (slot := first_on(day, others)):
            theirs.append(slot)
        if len(mine) >= OFFERS and len(theirs) >= OFFERS:
            break
    chosen = mine[:PREFERRED_OFFERS]
    chosen += theirs[: OFFERS - len(chosen)]
    chosen += mine[PREFERRED_OFFERS : PREFERRED_OFFERS + OFFERS - len(chosen)]
    return [
        RebookOffer(
            start=s.start,
            practitioner_id=s.practitioner_id,
            practitioner=names[s.practitioner_id],
            room_id=s.room_id,
            room=rooms[s.room_id],
            preferred=s.practitioner_id == preferred,
            days_off_target=(s.local_date(tz) - spec.target).days,
        )
        for s in chosen
    ]
