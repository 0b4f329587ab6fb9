"""Plan scenarios for booking and outbox tests, each a few calls to TreatmentPlanFactory and PlanSessionFactory."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model

from plans.models import SessionKind, TreatmentPlan
from tests.factories import (
    ClientFactory,
    PlanSessionFactory,
    PractitionerFactory,
    RoomFactory,
    TreatmentPlanFactory,
    UserFactory,
)
from tests.helpers.snapshots import protocol_snapshot

# The protocol the outbox tests' plans were made with: three reminders and four care notes.
OUTBOX_SNAPSHOT = protocol_snapshot(
    name="Fine pores, light skin",
    session_count=3,
    reminder_leads=[
        {"hours_before": 168, "include_pre_care": True},
        {"hours_before": 48, "include_pre_care": False},
        {"hours_before": 24, "include_pre_care": False},
    ],
    care_notes=[
        {"id": "pre-7", "phase": "pre", "offset_days": -7, "subject": "Stop retinoids", "body": "Stop retinoids."},
        {"id": "post-0", "phase": "post", "offset_days": 0, "subject": "The first 24 hours", "body": "Rinse."},
        {"id": "post-1", "phase": "post", "offset_days": 1, "subject": "Days 1 to 3", "body": "Mineral SPF 30+."},
        {"id": "post-5", "phase": "post", "offset_days": 5, "subject": "Restart actives", "body": "From day 5."},
    ],
    follow_up_days=84,
)


def plan_to_book(
    *,
    first_target: dt.date,
    count: int = 3,
    spread: int = 7,
    peel_after: int | None = None,
    user=None,
    follow_up: bool = False,
    **snap,
) -> TreatmentPlan:
    """An accepted plan of `count` microneedling sessions, none booked yet, every 28 days from `first_target`,
    each bookable `spread` days either side of its target.

    `peel_after=k` adds a peel between sessions k and k+1 with a 7-day washout both ways.
    `follow_up` adds the final assessment 84 days after the last session.
    """
    start = first_target - dt.timedelta(days=spread)
    # One planner for every plan: hashing a fresh user's password per plan is slow.
    user = user or get_user_model().objects.filter(username="planner").first() or UserFactory(username="planner")
    plan = TreatmentPlanFactory(
        protocol_snapshot=protocol_snapshot(session_count=count, **snap), requested_start=start, created_by=user
    )
    every = dt.timedelta(days=plan.params.interval_target_days)
    sequence = 0
    for k in range(1, count + 1):
        target = first_target + every * (k - 1)
        sequence += 1
        PlanSessionFactory(
            plan=plan,
            sequence=sequence,
            mn_number=k,
            earliest=target - dt.timedelta(days=spread),
            target=target,
            latest=target + dt.timedelta(days=spread),
        )
        if peel_after == k:
            sequence += 1
            PlanSessionFactory(
                plan=plan,
                sequence=sequence,
                kind=SessionKind.COMBINATION,
                title="Light peel",
                earliest=target + dt.timedelta(days=7),
                target=target + dt.timedelta(days=14),
                latest=target + dt.timedelta(days=20),
                duration_minutes=30,
                buffer_minutes=10,
                min_days_after_mn=7,
                min_days_before_mn=7,
            )
    if follow_up:
        target = first_target + every * (count - 1) + dt.timedelta(days=plan.params.follow_up_days)
        PlanSessionFactory(
            plan=plan,
            sequence=sequence + 1,
            kind=SessionKind.FOLLOW_UP,
            title="Follow-up assessment",
            earliest=target - dt.timedelta(days=7),
            target=target,
            latest=target + dt.timedelta(days=14),
            duration_minutes=30,
            buffer_minutes=0,
        )
    return plan


def booked_plan(*, client=None, starts: list[dt.datetime], follow_up: bool = False, snapshot=None) -> TreatmentPlan:
    """A plan whose microneedling sessions are booked at `starts` with one practitioner and room, not yet
    announced to the outbox (tests/helpers/outbox.py's book() does that). `follow_up` adds the assessment,
    unbooked, 84 days after the last session."""
    plan = TreatmentPlanFactory(
        protocol_snapshot=snapshot or OUTBOX_SNAPSHOT,
        requested_start=starts[0].date(),
        client=client or ClientFactory(),
    )
    practitioner, room = PractitionerFactory(), RoomFactory()
    for number, start in enumerate(starts, 1):
        PlanSessionFactory(
            plan=plan,
            sequence=number,
            title=f"Microneedling {number}",
            depth_mm=None,  # the outbox never reads a depth; these sessions have never had one
            booked_at=start,
            practitioner=practitioner,
            room=room,
        )
    if follow_up:
        day = starts[-1].date() + dt.timedelta(days=84)
        PlanSessionFactory(
            plan=plan,
            sequence=len(starts) + 1,
            kind=SessionKind.FOLLOW_UP,
            title="Follow-up assessment",
            target=day,
            duration_minutes=30,
            buffer_minutes=0,
        )
    return plan
