"""Booking fixtures: a clinic with hours and rooms, and accepted plans built directly
(snapshots come from ProtocolParams.to_snapshot, as plan_create stores them)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model

from plans import models
from tests.factories import ClientFactory, PractitionerFactory, ProtocolFactory, RoomFactory, UserFactory
from tests.helpers.snapshots import protocol_snapshot

LONDON = ZoneInfo("Europe/London")


def snapshot(**overrides):
    return protocol_snapshot(**overrides)


def make_plan(
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
    snap = snapshot(session_count=count, **snap)
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


def weekday_hours(practitioner, start=dt.time(9), end=dt.time(17)):
    for day in range(5):
        models.WorkingHours.objects.create(practitioner=practitioner, weekday=day, start=start, end=end)


@pytest.fixture
def clinic(aesthetician):
    """Ana works Monday to Friday 09:00-17:00; Ben the same; two treatment rooms."""
    ana = aesthetician.practitioner
    ben = PractitionerFactory(display_name="Ben Okafor")
    weekday_hours(ana)
    weekday_hours(ben)
    return {"ana": ana, "ben": ben, "room_a": RoomFactory(name="Room A"), "room_b": RoomFactory(name="Room B")}


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=LONDON)
