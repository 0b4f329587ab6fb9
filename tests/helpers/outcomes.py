"""Plans with recorded outcomes, in the shape the app stores them, for the report and the evidence."""

from __future__ import annotations

import datetime as dt
import itertools

from plans import models
from plans.services.outcomes import summarise_outcomes
from tests.factories import ClientFactory, PlanSessionFactory, PractitionerFactory, TreatmentPlanFactory, UserFactory
from tests.helpers.clock import at

# Each completed session gets its own hour of the day (08:00-17:00), so one practitioner's
# sessions of different plans on the same day never overlap (the database refuses that).
_slots = itertools.count()


def satisfaction_question() -> models.OutcomeQuestion:
    question, _ = models.OutcomeQuestion.objects.get_or_create(
        code="satisfaction",
        defaults={"text": "How satisfied are you with your skin?", "answer_type": models.AnswerType.SCALE_0_10},
    )
    return question


def born_for(age: int, start: dt.date) -> dt.date:
    """A date of birth that makes the client `age` on `start` (their birthday the day after)."""
    return dt.date(start.year - age - 1, start.month, start.day) + dt.timedelta(days=1)


def outcome_plan(
    *,
    protocol: models.Protocol,
    fitzpatrick: int = 2,
    age: int = 35,
    oiliness: str = "normal",
    pores: str = "moderate",
    status: str = models.PlanStatus.COMPLETED,
    start: dt.date = dt.date(2026, 1, 5),
    scores: tuple[int, int] | None = None,
    gais: int | None = None,
    satisfaction: int | None = None,
    sessions: tuple[tuple[dt.date, bool], ...] = (),
    practitioner: models.Practitioner | None = None,
    adverse: tuple[str, ...] = (),
) -> models.TreatmentPlan:
    """A plan of a client with this profile at `start`. `scores`: (baseline, assessment) pore grades;
    `sessions`: completed microneedling sessions as (day, inside its window?)."""
    client = ClientFactory(
        fitzpatrick=fitzpatrick,
        date_of_birth=born_for(age, start),
        oiliness=oiliness,
        pore_concern=pores,
        treatment_consent=False,
    )
    plan = TreatmentPlanFactory(client=client, protocol=protocol, status=status, requested_start=start)
    rater = UserFactory(username="rater")
    if scores:
        models.OutcomeScore.objects.create(
            plan=plan, moment="baseline", pore_grade=scores[0], rated_by=rater, rated_at=at(start, 10)
        )
        models.OutcomeScore.objects.create(
            plan=plan, moment="assessment", pore_grade=scores[1], gais=gais, rated_by=rater, rated_at=at(start, 11)
        )
        summarise_outcomes([plan.pk])  # as score_record does
    if satisfaction is not None:
        response = models.QuestionnaireResponse.objects.create(
            plan=plan, moment="assessment", submitted_at=at(start, 12)
        )
        models.QuestionnaireAnswer.objects.create(
            response=response, question=satisfaction_question(), value=satisfaction
        )
        # A baseline answer must not be read as the outcome.
        baseline = models.QuestionnaireResponse.objects.create(plan=plan, moment="baseline", submitted_at=at(start, 9))
        models.QuestionnaireAnswer.objects.create(response=baseline, question=satisfaction_question(), value=0)
    made = []
    practitioner = practitioner or (PractitionerFactory() if sessions else None)
    for i, (day, in_window) in enumerate(sessions, start=1):
        window = (day, day) if in_window else (day + dt.timedelta(days=3), day + dt.timedelta(days=10))
        session = PlanSessionFactory(
            plan=plan,
            sequence=i,
            target=window[0],
            earliest=window[0],
            latest=window[1],
            booked_at=at(day, 8 + next(_slots) % 10),
            status=models.SessionStatus.COMPLETED,
            practitioner=practitioner,
        )
        made.append(session)
    for kind in adverse:
        models.AdverseEvent.objects.create(
            client=client,
            session=made[0] if made else PlanSessionFactory(plan=plan, sequence=9),
            plan=plan,
            type=kind,
            severity=models.Severity.MILD,
            onset_on=start,
            description="For the report.",
            recorded_by=rater,
            recorded_at=at(start, 13),
        )
    return plan
