"""A small world of real rows, each in the shape the app stores it, so every URL pattern's parameters can
be filled with real ids and every page can be read for the clinical text it must (or must not) show.

The `world` and `completed_plan` fixtures (tests/conftest.py) build it.
"""

import datetime as dt
import re
from dataclasses import dataclass

from plans import models
from plans.planning import ContraindicationParams, RationaleEntry, ReviewItem
from tests.factories import PlanSessionFactory, TreatmentPlanFactory
from tests.helpers.snapshots import protocol_snapshot


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
    device: models.Device
    lot: models.Lot
    event: models.AdverseEvent
    photo: models.Photo | None = None


# Clinical text the world's records hold, each in the shape the app stores it. Front desk must
# never see any of these on a page or in JSON; an aesthetician sees each of them somewhere.
SCREENING_QUESTION = "Are you pregnant or breastfeeding?"
COLD_SORES = "Have you ever had cold sores"
COLD_SORES_WHY = "Needling can reactivate herpes simplex: antiviral cover first"
PROTOCOL_NAME = "P3 Conservative, Fitzpatrick IV-VI"
CARE_SUBJECTS = ("Avoid tanning", "Mineral SPF")
SESSION_NOTES = "Client mentioned a rash after the last peel."
SCORE_NOTES = "Graded under the ring light, left cheek worst."
CLIENT_NOTES = "Nervous of needles"
RATIONALE_FACTOR = "isotretinoin 3 months ago"
WARNING = "Recent isotretinoin"
IMMEDIATE_REACTION = "Wheals along the jawline within minutes"
ADVERSE_EVENT = "Patchy darkening on both cheeks"


def clinical_snapshot(name: str, session_count: int) -> dict:
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


def _clinical_plan(*, session_count: int, **fields) -> models.TreatmentPlan:
    """A P3 plan carrying the world's rationale, warning and review item, as plan_create stores them."""
    return TreatmentPlanFactory(
        protocol_snapshot=clinical_snapshot(PROTOCOL_NAME, session_count),
        requested_start=dt.date(2026, 1, 5),
        rationale=[RationaleEntry("deferral", RATIONALE_FACTOR, "Earliest start moved.", "Protocol P3").as_dict()],
        warnings=[WARNING],
        review_items=[ReviewItem("cold_sores", f"{COLD_SORES} (yes)", COLD_SORES_WHY).as_dict()],
        **fields,
    )


def clinical_plan(*, client, protocol, created_by, practitioner=None, booked_at=None) -> models.TreatmentPlan:
    """A plan with one microneedling session, proposed or (with booked_at) booked, stored as plan_create stores it."""
    plan = _clinical_plan(session_count=1, client=client, protocol=protocol, created_by=created_by)
    PlanSessionFactory(
        plan=plan,
        target=dt.date(2026, 1, 5),
        latest=dt.date(2026, 1, 12),
        notes=SESSION_NOTES,
        booked_at=booked_at,
        practitioner=practitioner if booked_at is not None else None,
    )
    return plan


def completed_clinical_plan(*, client, protocol, created_by, practitioner) -> models.TreatmentPlan:
    """A deferred two-session plan whose first session took place (depth used, pore score, notes)."""
    plan = _clinical_plan(
        session_count=2, earliest_start=dt.date(2026, 1, 19), client=client, protocol=protocol, created_by=created_by
    )
    done = dt.datetime(2026, 1, 20, 10, tzinfo=dt.UTC)
    PlanSessionFactory(
        plan=plan,
        sequence=1,
        target=dt.date(2026, 1, 20),
        latest=dt.date(2026, 2, 3),
        booked_at=done,
        practitioner=practitioner,
        status=models.SessionStatus.COMPLETED,
        completed_at=done + dt.timedelta(minutes=60),
        depth_used_mm="0.50",
        notes=SESSION_NOTES,
    )
    _signed_record(plan.sessions.get(sequence=1), practitioner.user)
    # Session 1's baseline pore grade, as score_record stores it: clinical, like the record.
    models.OutcomeScore.objects.create(
        plan=plan,
        session=plan.sessions.get(sequence=1),
        moment=models.ScoreMoment.BASELINE,
        pore_grade=3,
        notes=SCORE_NOTES,
        rated_by=practitioner.user,
        rated_at=done + dt.timedelta(minutes=60),
    )
    PlanSessionFactory(plan=plan, sequence=2, target=dt.date(2026, 2, 17), latest=dt.date(2026, 3, 3))
    return plan


def _signed_record(session: models.PlanSession, by) -> models.TreatmentRecord:
    """The record session_complete writes when the practitioner signs off (one zone, one lot)."""
    record = models.TreatmentRecord.objects.create(
        session=session,
        device=models.Device.objects.order_by("pk").first(),
        cartridge=models.Lot.objects.order_by("pk").first(),
        passes=3,
        endpoint=models.Endpoint.ERYTHEMA,
        immediate_reaction=IMMEDIATE_REACTION,
        notes=SESSION_NOTES,
        signed_by=by,
        signed_at=session.completed_at,
    )
    models.ZoneDepth.objects.create(record=record, zone="cheeks", depth_mm="0.50")
    return record


# Text that only the clinical record holds (the world above stores each in the app's own shape).
CLINICAL_TEXT = {
    "screening answer": SCREENING_QUESTION,
    "review item": COLD_SORES,
    "contraindication rule": COLD_SORES_WHY,
    "skin type": "Fitzpatrick",
    "care-note subject": CARE_SUBJECTS[0],
    "post-care subject": CARE_SUBJECTS[1],
    "session notes": SESSION_NOTES,
    "client notes": CLIENT_NOTES,
    "rationale": RATIONALE_FACTOR,
    "plan warning": WARNING,
    "deferral": "deferred to",
    "pore grade": "pore grade",
    "outcome score notes": SCORE_NOTES,
    "immediate reaction": IMMEDIATE_REACTION,
    "adverse event": ADVERSE_EVENT,
    "adverse event type": "hyperpigmentation",
}
DEPTH = re.compile(r"\d(?:\.\d+)?\s*mm\b")


def world_outcomes(plan: models.TreatmentPlan, *, by, at: dt.datetime) -> None:
    """Outcome rows as the services store them, each with a history version for the admin's
    history pages: a reworded anchor and question, a rated score, an answered questionnaire."""
    from plans.services.outcomes import load_default_outcome_items

    load_default_outcome_items()
    anchor = models.PoreGradeAnchor.objects.get(grade=0)
    anchor.description = f"{anchor.description} Under even light."
    anchor.save()
    question = models.OutcomeQuestion.objects.get(code="satisfaction")
    question.text = question.text.replace("at the moment", "today")
    question.save()
    models.OutcomeScore.objects.create(
        plan=plan, moment=models.ScoreMoment.BASELINE, pore_grade=2, notes=SCORE_NOTES, rated_by=by, rated_at=at
    )
    response = models.QuestionnaireResponse.objects.create(
        plan=plan, moment=models.ScoreMoment.BASELINE, submitted_at=at
    )
    models.QuestionnaireAnswer.objects.create(response=response, question=question, value=7)
