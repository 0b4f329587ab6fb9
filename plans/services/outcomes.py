"""Outcomes: the clinician's rating of a plan's result and the client's own questionnaire.

Two writes live here. `score_record` rates the pore grade (0-4, each grade with the written
anchor staff read beside it) at baseline, and the pore grade with the GAIS at the follow-up
assessment; a second rating of the same moment corrects the row (simple_history keeps what
it said). `questionnaire_submit` stores the client's answers from the signed link, once.

The shipped anchors and questions are our own wording, not a licensed instrument's; a clinic
rewords them in the admin, and `load_default_outcome_items` never overwrites an edited row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from plans.models import (
    AnswerType,
    Gais,
    OutcomeQuestion,
    OutcomeScore,
    PlanSession,
    PlanStatus,
    PoreGradeAnchor,
    QuestionnaireAnswer,
    QuestionnaireResponse,
    ScoreMoment,
    SessionKind,
    SessionStatus,
    TreatmentPlan,
)

# (grade, label, description): what a clinician sees, in even light, face at rest.
DEFAULT_ANCHORS = (
    (0, "None visible", "No pores can be made out at conversational distance (about 1 m) or on close inspection."),
    (1, "Slight", "Pores seen only on close inspection (under 30 cm), on the nose and the skin beside it."),
    (
        2,
        "Moderate",
        "Pores visible at conversational distance on the nose and inner cheeks; elsewhere the skin looks even.",
    ),
    (
        3,
        "Marked",
        "Enlarged pores clearly visible at conversational distance across the nose and cheeks, "
        "making the surface look uneven in reflected light.",
    ),
    (
        4,
        "Very marked",
        "Large pores over the cheeks, nose and forehead, visible from across a room; some elongated or "
        "running together into an orange-peel texture.",
    ),
)

# (code, text, answer type, low label, high label, position, asked at baseline). The report
# reads the three codes; the wording is the clinic's own and admin-editable.
DEFAULT_QUESTIONS = (
    (
        "satisfaction",
        "All things considered, how happy are you with the skin on your face at the moment?",
        AnswerType.SCALE_0_10,
        "Not at all happy",
        "Completely happy",
        1,
        True,
    ),
    (
        "pore-visibility",
        "Looking in a mirror in daylight, how noticeable are your pores to you?",
        AnswerType.SCALE_1_5,
        "I can hardly see them",
        "Very noticeable",
        2,
        True,
    ),
    (
        "recommend",
        "Would you recommend this course of treatment to a friend with skin like yours?",
        AnswerType.YES_NO,
        "No",
        "Yes",
        3,
        False,
    ),
)


@dataclass(frozen=True)
class Loaded:
    anchors_created: list[int]
    questions_created: list[str]


def load_default_outcome_items(apps=None) -> Loaded:
    """Create the anchors and questions that are missing (idempotent, matched by grade and code;
    an admin's wording is never changed): the migration, load_protocols, load_demo and tests call it."""
    anchor_model = apps.get_model("plans", "PoreGradeAnchor") if apps else PoreGradeAnchor
    question_model = apps.get_model("plans", "OutcomeQuestion") if apps else OutcomeQuestion
    anchors, questions = [], []
    for grade, label, description in DEFAULT_ANCHORS:
        _obj, created = anchor_model.objects.get_or_create(
            grade=grade, defaults={"label": label, "description": description}
        )
        if created:
            anchors.append(grade)
    for code, text, answer_type, low, high, position, at_baseline in DEFAULT_QUESTIONS:
        _obj, created = question_model.objects.get_or_create(
            code=code,
            defaults={
                "text": text,
                "answer_type": str(answer_type),
                "low_label": low,
                "high_label": high,
                "position": position,
                "asked_at_baseline": at_baseline,
            },
        )
        if created:
            questions.append(code)
    return Loaded(anchors, questions)


# --- The clinician's rating ------------------------------------------------------------------------

RATE_PERMISSION = "plans.add_outcomescore"


def rating_refusal(*, plan: TreatmentPlan, moment: str, sessions: list[PlanSession] | None = None) -> str:
    """Why `moment` cannot be rated for `plan` yet ("" when it can). The baseline describes the
    skin before treatment, so it is rated at session 1 (in treatment or completed); the
    assessment describes the result, so it waits for the follow-up visit (arrived or done)."""
    sessions = sorted(plan.sessions.all() if sessions is None else sessions, key=lambda s: s.sequence)
    if moment == ScoreMoment.BASELINE:
        first = next((s for s in sessions if s.kind == SessionKind.MICRONEEDLING and s.mn_number == 1), None)
        if first is None:
            return "This plan has no first microneedling session to rate a baseline at."
        if first.status != SessionStatus.COMPLETED and first.started_at is None:
            return "The baseline pore grade is rated at session 1: start or complete that session first."
        return ""
    if moment == ScoreMoment.ASSESSMENT:
        follow_up = next((s for s in sessions if s.kind == SessionKind.FOLLOW_UP), None)
        if follow_up is None:
            return "This plan has no follow-up assessment to rate the result at."
        if follow_up.status != SessionStatus.COMPLETED and follow_up.checked_in_at is None:
            return "The assessment is rated at the follow-up visit: check the client in or complete it first."
        return ""
    return f"Unknown moment {moment!r}."


def _int_in(value, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except (TypeError, ValueError):
            raise ValidationError(f"Choose the {what} ({low} to {high}).") from None
    if not low <= value <= high:
        raise ValidationError(f"The {what} is on a scale of {low} to {high}; {value} is not on it.")
    return value


def _device_reading(device_measurement, device_name: str) -> tuple[Decimal | None, str]:
    device_name = (device_name or "").strip()
    if device_measurement in (None, ""):
        if device_name:
            raise ValidationError("A device is named but no reading is given: enter the reading or clear the device.")
        return None, ""
    try:
        reading = Decimal(str(device_measurement))
    except InvalidOperation:
        raise ValidationError("The device reading must be a number.") from None
    if not reading.is_finite() or abs(reading) >= Decimal("1000000") or reading != round(reading, 2):
        raise ValidationError("The device reading must be a number below 1,000,000 with at most 2 decimals.")
    if not device_name:
        raise ValidationError("Name the device (skin analyser) the reading comes from.")
    if len(device_name) > 80:
        raise ValidationError("The device name is at most 80 characters.")
    return reading, device_name


def score_record(
    *,
    plan: TreatmentPlan,
    moment: str,
    pore_grade,
    gais=None,
    device_measurement=None,
    device_name: str = "",
    notes: str = "",
    rated_by,
    session: PlanSession | None = None,
    now: dt.datetime | None = None,
) -> OutcomeScore:
    """Rate (or re-rate) the plan's outcome at `moment`. ValidationError, with nothing changed,
    for a rater without the permission, a moment not reached yet, or a value off its scale."""
    if (
        rated_by is None
        or not rated_by.has_perm(RATE_PERMISSION)
        or not rated_by.has_perm("plans.view_clinical_record")
    ):
        raise ValidationError("Only a clinician or aesthetician may rate outcomes.", code="forbidden")
    if moment not in ScoreMoment.values:
        raise ValidationError(f"Unknown moment {moment!r}.")
    pore_grade = _int_in(pore_grade, 0, 4, "pore grade")
    if moment == ScoreMoment.ASSESSMENT:
        if gais in (None, ""):
            raise ValidationError("Rate the global aesthetic improvement (GAIS) at the assessment.")
        gais = _int_in(gais, min(Gais.values), max(Gais.values), "GAIS")
    elif gais not in (None, ""):
        raise ValidationError("The GAIS rates change since baseline: it is given at the assessment only.")
    else:
        gais = None
    reading, device_name = _device_reading(device_measurement, device_name)
    # Imported here: booking.py imports the outbox, which imports this module's models only.
    from plans.services.booking import _lock_plan

    with transaction.atomic():
        # The plan and its sessions, in the order every booking write takes them: two raters
        # of one plan queue here, so the second updates the first's row instead of colliding.
        locked, sessions = _lock_plan(plan.pk)
        if session is not None and session.pk not in {s.pk for s in sessions}:
            raise ValidationError("That session belongs to another plan.")
        if session is not None and session.score_moment != moment:
            raise ValidationError(f"{session.title} is not where the {ScoreMoment(moment).label.lower()} is rated.")
        if refusal := rating_refusal(plan=locked, moment=moment, sessions=sessions):
            raise ValidationError(refusal, code="too_early")
        if session is None:
            session = next(s for s in sessions if s.score_moment == moment)
        score = OutcomeScore.objects.select_for_update().filter(plan=locked, moment=moment).first()
        score = score or OutcomeScore(plan=locked, moment=moment)
        score.session = session
        score.pore_grade = pore_grade
        score.gais = gais
        score.device_measurement = reading
        score.device_name = device_name
        score.notes = (notes or "").strip()
        score.rated_by = rated_by
        score.rated_at = now or timezone.now()
        score.save()
        summarise_outcomes([locked.pk])
    return score


def summarise_outcomes(plan_ids) -> int:
    """Copy each plan's scores into its outcome columns (TreatmentPlan.outcome_change and
    outcome_gais), in one UPDATE. Whoever writes OutcomeScore rows calls it in the same
    transaction: score_record, the demo and the benchmark's generator."""

    def score(moment: str, field: str) -> Subquery:
        return Subquery(OutcomeScore.objects.filter(plan=OuterRef("pk"), moment=moment).values(field)[:1])

    return TreatmentPlan.objects.filter(pk__in=plan_ids).update(
        outcome_change=score(ScoreMoment.ASSESSMENT, "pore_grade") - score(ScoreMoment.BASELINE, "pore_grade"),
        outcome_gais=score(ScoreMoment.ASSESSMENT, "gais"),
    )


# --- The client's questionnaire --------------------------------------------------------------------


class QuestionnaireAlreadySubmitted(Exception):
    """The response was submitted before (a second tab, a double tap): nothing more is stored."""


def questions_for(response: QuestionnaireResponse) -> list[OutcomeQuestion]:
    """The active questions this response asks, in their order."""
    questions = OutcomeQuestion.objects.filter(active=True)
    if response.moment == ScoreMoment.BASELINE:
        questions = questions.filter(asked_at_baseline=True)
    return list(questions.order_by("position", "id"))


def questionnaire_refusal(response: QuestionnaireResponse) -> str:
    """Why the questionnaire cannot be filled in (other than having been already): "" when it can."""
    if response.plan.status == PlanStatus.CANCELLED:
        return "This course of treatment was cancelled, so this questionnaire is closed. Thank you all the same."
    if response.plan.client.erased_at is not None:
        return "This questionnaire is closed."
    return ""


def _clean_answers(questions: list[OutcomeQuestion], answers: dict) -> dict[int, int]:
    if not isinstance(answers, dict):
        raise ValidationError("The answers were not understood.")
    known = {q.code for q in questions}
    if unknown := sorted(str(code) for code in answers if code not in known):
        raise ValidationError(f"These are not questions of this questionnaire: {', '.join(unknown)}.")
    errors: dict[str, str] = {}
    values: dict[int, int] = {}
    for question in questions:
        low, high = question.value_range
        raw = answers.get(question.code)
        try:
            values[question.pk] = _int_in(raw, low, high, "answer")
        except ValidationError:
            errors[question.code] = (
                "Please choose yes or no."
                if question.answer_type == AnswerType.YES_NO
                else f"Please choose {low} to {high}."
            )
    if errors:
        raise ValidationError(errors)
    return values


def questionnaire_submit(*, response: QuestionnaireResponse, answers: dict, now: dt.datetime) -> QuestionnaireResponse:
    """Store the client's answers (code -> value) once. Every active question needs an answer on
    its scale (ValidationError, per question code, otherwise); a second submission raises
    QuestionnaireAlreadySubmitted, also when two arrive at the same moment."""
    questions = questions_for(response)
    values = _clean_answers(questions, answers)
    with transaction.atomic():
        locked = QuestionnaireResponse.objects.select_for_update().select_related("plan__client").get(pk=response.pk)
        if locked.submitted_at is not None:
            raise QuestionnaireAlreadySubmitted()
        if refusal := questionnaire_refusal(locked):
            raise ValidationError(refusal, code="closed")
        # The conditional UPDATE is the claim on every database (SQLite has no row locks): one winner.
        if not QuestionnaireResponse.objects.filter(pk=locked.pk, submitted_at__isnull=True).update(submitted_at=now):
            raise QuestionnaireAlreadySubmitted()
        QuestionnaireAnswer.objects.bulk_create(
            QuestionnaireAnswer(response=locked, question_id=question_id, value=value)
            for question_id, value in values.items()
        )
    locked.submitted_at = now
    return locked


def questionnaire_open(*, plan: TreatmentPlan, moment: str) -> QuestionnaireResponse:
    """The plan's response row for `moment`, created if missing; called by the outbox in the
    transaction that writes the invitation (so the emailed link always names a row)."""
    response, _created = QuestionnaireResponse.objects.get_or_create(plan=plan, moment=moment)
    return response
