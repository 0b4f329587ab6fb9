"""A small world of real rows so every URL pattern's parameters can be filled with real ids."""

import datetime as dt
from dataclasses import dataclass

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog

from plans import models
from plans.services.privacy import record_access_log
from tests.booking.conftest import clinic  # noqa: F401 (fixture for the bad-input sweep)
from tests.factories import ClientFactory, ProtocolFactory, RoomFactory
from tests.helpers.snapshots import protocol_snapshot
from tests.plans.conftest import protocol  # noqa: F401 (fixture for the bad-input sweep)


@dataclass
class World:
    client: models.Client
    screening: models.Screening
    answer: models.ScreeningAnswer
    question: models.ScreeningQuestion
    protocol: models.Protocol
    plan: models.TreatmentPlan
    session: models.PlanSession
    practitioner: models.Practitioner
    room: models.Room


def make_plan(*, client, protocol, created_by, practitioner=None, booked_at=None) -> models.TreatmentPlan:  # noqa: F811 (a parameter, not the fixture)
    """A plan with one microneedling session, proposed or (with booked_at) booked."""
    plan = models.TreatmentPlan.objects.create(
        client=client,
        protocol=protocol,
        protocol_snapshot=protocol_snapshot(name=protocol.name, session_count=1),
        requested_start=dt.date(2026, 1, 5),
        earliest_start=dt.date(2026, 1, 5),
        rationale=[{"factor": "isotretinoin 3 months ago", "effect": "deferred", "source": "protocol"}],
        warnings=["Recent isotretinoin"],
        review_items=["Pregnancy: answered yes"],
        created_by=created_by,
    )
    session = models.PlanSession(
        plan=plan,
        sequence=1,
        kind=models.SessionKind.MICRONEEDLING,
        title="Microneedling 1 of 1",
        mn_number=1,
        earliest=dt.date(2026, 1, 5),
        target=dt.date(2026, 1, 5),
        latest=dt.date(2026, 1, 12),
        duration_minutes=60,
        buffer_minutes=15,
        depth_mm="0.50",
        notes="Client mentioned a rash after the last peel.",
        cancel_reason="",
    )
    if booked_at is not None:
        session.status = models.SessionStatus.BOOKED
        session.starts_at = booked_at
        session.ends_at = booked_at + dt.timedelta(minutes=60)
        session.blocked_until = session.ends_at + dt.timedelta(minutes=15)
        session.practitioner = practitioner
    session.save()
    return plan


@pytest.fixture
def world(aesthetician, front_desk, clinic_admin) -> World:
    client = ClientFactory(
        first_name="Zoe", last_name="Quinn", email="zoe.quinn@example.com", notes="Nervous of needles"
    )
    question = models.ScreeningQuestion.objects.create(code="pregnant", text="Are you pregnant or breastfeeding?")
    screening = models.Screening.objects.create(client=client, screened_by=aesthetician, notes="Discussed pregnancy")
    answer = models.ScreeningAnswer.objects.create(screening=screening, question=question, answer=True)
    protocol = ProtocolFactory()  # noqa: F811
    plan = make_plan(client=client, protocol=protocol, created_by=aesthetician)
    record_access_log(user=aesthetician, client=client, action="view")
    # One row for each admin-registered model that has no factory, so their change pages can be opened.
    AccessAttempt.objects.create(username="someone", ip_address="192.0.2.1", failures_since_start=1)
    AccessLog.objects.create(username="someone", ip_address="192.0.2.1")
    AccessFailureLog.objects.create(username="someone", ip_address="192.0.2.1")
    start = dt.datetime(2026, 1, 6, 9, tzinfo=dt.UTC)
    models.TimeOff.objects.create(starts_at=start, ends_at=start + dt.timedelta(hours=8), reason="Staff training")
    models.WorkerHeartbeat.objects.create(name="worker", seen_at=start)
    message = models.Message.objects.create(
        client=client, session=plan.sessions.get(), kind="confirmation", send_at=start, session_version=0
    )
    models.DeliveryAttempt.objects.create(message=message, attempted_at=start, succeeded=False, error="421 try later")
    return World(
        client=client,
        screening=screening,
        answer=answer,
        question=question,
        protocol=protocol,
        plan=plan,
        session=plan.sessions.get(),
        practitioner=aesthetician.practitioner,
        room=RoomFactory(),
    )
