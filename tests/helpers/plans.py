"""Treatment plans written straight to the database, as plan_create and the booking services store them."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model

from plans import models
from plans.models import PlanSession, SessionKind, SessionStatus, TreatmentPlan
from tests.factories import ClientFactory, PractitionerFactory, ProtocolFactory, RoomFactory, UserFactory
from tests.helpers.snapshots import protocol_snapshot

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
):
    """An accepted plan of `count` microneedling sessions every 28 days from `first_target`.

    `peel_after=k` adds a peel between sessions k and k+1 with a 7-day washout both ways.
    `follow_up` adds the final assessment 84 days after the last session.
    """
    snap = protocol_snapshot(session_count=count, **snap)
    # One planner for every plan: hashing a fresh user's password per plan is slow.
    user = user or get_user_model().objects.filter(username="planner").first() or UserFactory(username="planner")
    plan = models.TreatmentPlan.objects.create(
        client=ClientFactory(),
        protocol=ProtocolFactory(),
        protocol_snapshot=snap,
        requested_start=first_target - dt.timedelta(days=spread),
        earliest_start=first_target - dt.timedelta(days=spread),
        created_by=user,
    )
    seq = 1
    for k in range(1, count + 1):
        target = first_target + dt.timedelta(days=snap["interval_target_days"] * (k - 1))
        models.PlanSession.objects.create(
            plan=plan,
            sequence=seq,
            kind="microneedling",
            title=f"Microneedling {k} of {count}",
            mn_number=k,
            earliest=target - dt.timedelta(days=spread),
            target=target,
            latest=target + dt.timedelta(days=spread),
            duration_minutes=snap["session_minutes"],
            buffer_minutes=snap["buffer_minutes"],
            depth_mm="0.5",
        )
        seq += 1
        if peel_after == k:
            models.PlanSession.objects.create(
                plan=plan,
                sequence=seq,
                kind="combination",
                title="Light peel",
                earliest=target + dt.timedelta(days=7),
                target=target + dt.timedelta(days=14),
                latest=target + dt.timedelta(days=20),
                duration_minutes=30,
                buffer_minutes=10,
                min_days_after_mn=7,
                min_days_before_mn=7,
            )
            seq += 1
    if follow_up:
        last = first_target + dt.timedelta(days=snap["interval_target_days"] * (count - 1))
        target = last + dt.timedelta(days=snap["follow_up_days"])
        models.PlanSession.objects.create(
            plan=plan,
            sequence=seq,
            kind="follow_up",
            title="Follow-up assessment",
            earliest=target - dt.timedelta(days=7),
            target=target,
            latest=target + dt.timedelta(days=14),
            duration_minutes=30,
            buffer_minutes=0,
        )
    return plan


def booked_plan(*, client=None, starts: list[dt.datetime], follow_up: bool = False, snapshot=None) -> TreatmentPlan:
    """A plan whose microneedling sessions are booked at `starts` (not yet announced to the hooks)."""
    client = client or ClientFactory()
    practitioner = PractitionerFactory()
    room = RoomFactory()
    first = starts[0].date()
    plan = TreatmentPlan.objects.create(
        client=client,
        protocol=ProtocolFactory(),
        protocol_snapshot=snapshot or OUTBOX_SNAPSHOT,
        requested_start=first,
        earliest_start=first,
        created_by=UserFactory(),
    )
    for number, start in enumerate(starts, 1):
        _session(plan, number, SessionKind.MICRONEEDLING, f"Microneedling {number}", start, practitioner, room, number)
    if follow_up:
        day = starts[-1].date() + dt.timedelta(days=84)
        PlanSession.objects.create(
            plan=plan,
            sequence=len(starts) + 1,
            kind=SessionKind.FOLLOW_UP,
            title="Follow-up assessment",
            earliest=day,
            target=day,
            latest=day,
            duration_minutes=30,
        )
    return plan


def _session(plan, sequence, kind, title, start, practitioner, room, mn_number=None) -> PlanSession:
    return PlanSession.objects.create(
        plan=plan,
        sequence=sequence,
        kind=kind,
        title=title,
        mn_number=mn_number,
        earliest=start.date(),
        target=start.date(),
        latest=start.date(),
        duration_minutes=60,
        status=SessionStatus.BOOKED,
        starts_at=start,
        ends_at=start + dt.timedelta(hours=1),
        blocked_until=start + dt.timedelta(hours=1, minutes=15),
        practitioner=practitioner,
        room=room,
    )
