"""Reads behind the booking pages: each runs a fixed number of queries, whatever the data's size.

Views parse input and call these; services (plans.services.booking) do the writes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from plans import scheduling
from plans.models import (
    BOOKABLE_STATUSES,
    PlanSession,
    PlanStatus,
    Practitioner,
    Room,
    SessionStatus,
    TreatmentPlan,
)
from plans.services import booking

# Shown on the calendar; cancelled ones only on request.
SHOWN = [SessionStatus.BOOKED, SessionStatus.COMPLETED, SessionStatus.NO_SHOW]

# The plan's JSON columns (snapshot, rationale, ...) are large and decoded per row: the calendar
# and day list only need the client's name, so they are left out of the join.
PLAN_JSON = (
    "plan__protocol_snapshot",
    "plan__rationale",
    "plan__warnings",
    "plan__review_items",
    "plan__selected_combinations",
)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=booking.clinic_tz())


@dataclass(frozen=True)
class CalendarRows:
    """A range's appointments as plain rows, and their plans (for labels and actions)."""

    rows: list[dict]
    plans: dict[int, TreatmentPlan]

    def session(self, row: dict) -> PlanSession:
        """An unsaved PlanSession carrying what label and available_actions read: the
        model answers those, not the view (building it costs far less than loading it)."""
        return PlanSession(
            id=row["id"],
            plan=self.plans[row["plan_id"]],
            kind=row["kind"],
            title=row["title"],
            mn_number=row["mn_number"],
            status=row["status"],
            starts_at=row["starts_at"],
        )


def calendar_sessions(
    *, first: dt.date, last: dt.date, cancelled: bool = False, practitioner_id: int | None = None
) -> CalendarRows:
    """Appointments between two clinic-local dates (last exclusive): two queries."""
    start, end = _midnight(first), _midnight(last)
    rows = (
        # The lower bound on starts_at is implied (no booking is longer than MAX_BOOKING_SPAN) and
        # bounds PostgreSQL's range scan of the starts_at index to the week instead of all history.
        PlanSession.objects.filter(
            status__in=[*SHOWN, SessionStatus.CANCELLED] if cancelled else SHOWN,
            starts_at__lt=end,
            starts_at__gte=start - booking.MAX_BOOKING_SPAN,
            ends_at__gt=start,
        )
        .order_by("starts_at")
        # Plain rows, not model instances: building a week of instances (session, plan, client,
        # practitioner, room) cost several times the query itself.
        .values(
            "id",
            "plan_id",
            "kind",
            "title",
            "mn_number",
            "status",
            "starts_at",
            "ends_at",
            "practitioner_id",
            "room_id",
            "plan__client_id",
            "plan__client__first_name",
            "plan__client__last_name",
            "practitioner__display_name",
            "room__name",
        )  # fmt: skip
    )
    if practitioner_id is not None:
        rows = rows.filter(practitioner_id=practitioner_id)
    rows = list(rows)
    # One row per plan, not per session: the snapshot (for "session k of n") is decoded once a plan.
    plans = TreatmentPlan.objects.only("id", "status", "protocol_snapshot").in_bulk({r["plan_id"] for r in rows})
    return CalendarRows(rows, plans)


def closed_time(*, first: dt.date, last: dt.date) -> list[scheduling.Closed]:
    """Hours not worked, time off and closures between two clinic-local dates (last exclusive):
    four queries (practitioners, hours, time off, rooms), no bookings read."""
    availability = booking.availability_for(first=first, last=last, dates=[])
    return scheduling.closed_spans(availability, first, last - dt.timedelta(days=1))


def next_bookable_sessions(*, day: dt.date) -> list[dict]:
    """The next session still to book of every active plan, for the "book here" dialog:
    those whose window holds `day` first. Two queries."""
    candidates = (
        PlanSession.objects.filter(plan__status=PlanStatus.ACTIVE, status__in=BOOKABLE_STATUSES)
        .select_related("plan__client")
        .order_by("plan_id", "sequence")
    )
    seen: set[int] = set()
    rows = []
    for s in candidates:
        if s.plan_id in seen:
            continue
        seen.add(s.plan_id)
        rows.append(
            {
                "id": s.id,
                "label": f"{s.plan.client.full_name} — {s.title} (window {s.earliest:%d %b}–{s.latest:%d %b})",
                "inWindow": s.earliest <= day <= s.latest,
            }
        )
    rows.sort(key=lambda r: (not r["inWindow"], r["label"]))
    return rows


def day_sessions(*, day: dt.date) -> QuerySet[PlanSession]:
    """The day's appointments for the front desk's list, in time order: one query."""
    start = _midnight(day)
    return (
        PlanSession.objects.filter(starts_at__gte=start, starts_at__lt=start + dt.timedelta(days=1))
        .exclude(status=SessionStatus.PROPOSED)
        .select_related("plan__client", "practitioner", "room")
        .defer(*PLAN_JSON)
        .order_by("starts_at", "practitioner__display_name")
    )


def plan_for_booking(*, pk: int) -> tuple[TreatmentPlan, list[PlanSession]]:
    """A plan with its client, and its sessions in order with practitioner and room: three queries."""
    plan = TreatmentPlan.objects.select_related("client").get(pk=pk)
    sessions = list(plan.sessions.select_related("practitioner", "room").order_by("sequence"))
    for s in sessions:
        s.plan = plan
    return plan, sessions


def session_for_panel(*, pk: int) -> PlanSession:
    return PlanSession.objects.select_related("plan__client", "practitioner", "room").get(pk=pk)


def proposal_rows(proposal: booking.SeriesProposal) -> tuple[list[dict], list[dict]]:
    """The proposal's rows (session, time, practitioner, room, days off target) and the
    nearest options of an infeasible one, for the plan booking page: two queries."""
    problem = proposal.result.problem
    nearest = problem.nearest if problem else []
    practitioners = Practitioner.objects.in_bulk(
        {b.slot.practitioner_id for b in proposal.result.bookings} | {s.practitioner_id for s in nearest}
    )
    rooms = Room.objects.in_bulk({b.slot.room_id for b in proposal.result.bookings})
    rows = [
        {
            "session": session,
            "start": b.slot.start,
            "practitioner": practitioners[b.slot.practitioner_id],
            "room": rooms[b.slot.room_id],
            "off_target": (timezone.localdate(b.slot.start) - session.target).days,
        }
        for session, b in proposal.rows
    ]
    return rows, [{"start": s.start, "practitioner": practitioners[s.practitioner_id]} for s in nearest]


# A feed reaches this far back, so a calendar app still shows last month's appointments.
FEED_DAYS_BACK = 30


def feed_sessions(*, practitioner: Practitioner) -> QuerySet[PlanSession]:
    """The practitioner's appointments for their iCalendar feed, from a month ago on: one query."""
    since = timezone.now() - dt.timedelta(days=FEED_DAYS_BACK)
    return (
        PlanSession.objects.filter(practitioner=practitioner, starts_at__gte=since)
        .exclude(status=SessionStatus.PROPOSED)
        .select_related("plan__client", "room")
    )
