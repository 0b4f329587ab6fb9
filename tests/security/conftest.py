"""A small world of real rows so every URL pattern's parameters can be filled with real ids."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog

from plans import models
from plans.planning import ContraindicationParams, RationaleEntry, ReviewItem
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


# Clinical text the world's records hold, each in the shape the app stores it. Front desk must
# never see any of these on a page or in JSON; an aesthetician sees each of them somewhere.
SCREENING_QUESTION = "Are you pregnant or breastfeeding?"
COLD_SORES = "Have you ever had cold sores"
COLD_SORES_WHY = "Needling can reactivate herpes simplex: antiviral cover first"
PROTOCOL_NAME = "P3 Conservative, Fitzpatrick IV-VI"
CARE_SUBJECTS = ("Avoid tanning", "Mineral SPF")
SESSION_NOTES = "Client mentioned a rash after the last peel."
CLIENT_NOTES = "Nervous of needles"
RATIONALE_FACTOR = "isotretinoin 3 months ago"
WARNING = "Recent isotretinoin"


def _snapshot(name: str, session_count: int) -> dict:
    return protocol_snapshot(
        name=name,
        session_count=session_count,
        depth_schedule=["0.5", "0.75"][:session_count],
        depth_cap_mm="1.0",
        depth_notes="Nose and forehead 0.5 mm",
        care_notes=[
            {"id": 1, "phase": "pre", "offset_days": -14, "subject": CARE_SUBJECTS[0], "body": "No sunbeds."},
            {"id": 2, "phase": "post", "offset_days": 1, "subject": CARE_SUBJECTS[1], "body": "SPF 30+."},
        ],
        reminder_leads=[{"hours_before": 168, "include_pre_care": True}, {"hours_before": 24}],
        contraindications=(
            ContraindicationParams("cold_sores", "review", f"{COLD_SORES}?", explanation=COLD_SORES_WHY),
        ),
    )


def make_plan(*, client, protocol, created_by, practitioner=None, booked_at=None) -> models.TreatmentPlan:  # noqa: F811 (a parameter, not the fixture)
    """A plan with one microneedling session, proposed or (with booked_at) booked, stored as plan_create stores it."""
    plan = models.TreatmentPlan.objects.create(
        client=client,
        protocol=protocol,
        protocol_snapshot=_snapshot(PROTOCOL_NAME, 1),
        requested_start=dt.date(2026, 1, 5),
        earliest_start=dt.date(2026, 1, 5),
        rationale=[
            RationaleEntry("deferral", RATIONALE_FACTOR, "Earliest start moved.", "Protocol P3").as_dict(),
        ],
        warnings=[WARNING],
        review_items=[ReviewItem("cold_sores", f"{COLD_SORES} (yes)", COLD_SORES_WHY).as_dict()],
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
        notes=SESSION_NOTES,
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


def make_completed_plan(*, client, protocol, created_by, practitioner) -> models.TreatmentPlan:  # noqa: F811
    """A deferred two-session plan whose first session took place (depth used, pore score, notes)."""
    plan = models.TreatmentPlan.objects.create(
        client=client,
        protocol=protocol,
        protocol_snapshot=_snapshot(PROTOCOL_NAME, 2),
        requested_start=dt.date(2026, 1, 5),
        earliest_start=dt.date(2026, 1, 19),
        selected_combinations=[],
        rationale=[RationaleEntry("deferral", RATIONALE_FACTOR, "Earliest start moved.", "Protocol P3").as_dict()],
        warnings=[WARNING],
        review_items=[ReviewItem("cold_sores", f"{COLD_SORES} (yes)", COLD_SORES_WHY).as_dict()],
        created_by=created_by,
    )
    done = dt.datetime(2026, 1, 20, 10, tzinfo=dt.UTC)
    for k, target in ((1, dt.date(2026, 1, 20)), (2, dt.date(2026, 2, 17))):
        session = models.PlanSession(
            plan=plan,
            sequence=k,
            kind=models.SessionKind.MICRONEEDLING,
            title=f"Microneedling {k} of 2",
            mn_number=k,
            earliest=target,
            target=target,
            latest=target + dt.timedelta(days=14),
            duration_minutes=60,
            buffer_minutes=15,
            depth_mm=["0.50", "0.75"][k - 1],
        )
        if k == 1:
            session.status = models.SessionStatus.COMPLETED
            session.starts_at, session.ends_at = done, done + dt.timedelta(minutes=60)
            session.blocked_until = session.ends_at + dt.timedelta(minutes=15)
            session.practitioner = practitioner
            session.depth_used_mm, session.pore_score, session.notes = "0.50", 3, SESSION_NOTES
            session.completed_at = session.ends_at
        session.save()
    return plan


@pytest.fixture
def world(aesthetician, front_desk, clinic_admin) -> World:
    client = ClientFactory(first_name="Zoe", last_name="Quinn", email="zoe.quinn@example.com", notes=CLIENT_NOTES)
    question = models.ScreeningQuestion.objects.create(code="pregnant", text=SCREENING_QUESTION)
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
    # Switched off, so the world's plans keep the floor's 1.5 mm; the row gives its admin pages something to open.
    models.SafetyException.objects.create(max_depth_mm=Decimal("2.0"), reason="Scar clinic", active=False)
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


@pytest.fixture
def completed_plan(world, aesthetician) -> models.TreatmentPlan:
    """A second plan of the world's client whose first session took place, with its post-care email scheduled."""
    plan = make_completed_plan(
        client=world.client, protocol=world.protocol, created_by=aesthetician, practitioner=world.practitioner
    )
    models.Message.objects.create(
        client=world.client,
        session=plan.sessions.get(sequence=1),
        kind="care:2",
        send_at=dt.datetime(2026, 1, 21, 9, tzinfo=dt.UTC),
        session_version=0,
    )
    return plan
