"""The clinician's outcome scores: the pore grade (0-4, each grade's written anchor beside its button)
at session 1 and at the follow-up assessment, the GAIS at the assessment only, an unvalidated device
reading; the rules in score_record, the ones the database enforces, and who sees them."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from plans import models
from plans.models import Gais, OutcomeScore, ScoreMoment, SessionKind, SessionStatus
from plans.services import outcomes
from plans.services.outcomes import DEFAULT_ANCHORS, load_default_outcome_items, score_record
from tests.booking.conftest import frozen_clock  # noqa: F401 - the booking tests' clock, shared
from tests.booking.test_calendar_views import MON, book_plans
from tests.factories import PlanSessionFactory, PractitionerFactory
from tests.helpers.clock import at
from tests.helpers.records import record_post
from tests.helpers.safety import record_check
from tests.helpers.world import SCORE_NOTES

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _anchors(db):
    load_default_outcome_items()


def _fresh_baseline(plan: models.TreatmentPlan) -> models.PlanSession:
    """The world's completed plan with its baseline not rated yet."""
    plan.outcome_scores.all().delete()
    return plan.sessions.get(sequence=1)


def _follow_up(plan: models.TreatmentPlan, *, status=SessionStatus.COMPLETED) -> models.PlanSession:
    practitioner = models.Practitioner.objects.first() or PractitionerFactory()
    when = dt.datetime(2026, 6, 1, 10, tzinfo=dt.UTC)
    return PlanSessionFactory(
        plan=plan,
        sequence=3,
        kind=SessionKind.FOLLOW_UP,
        title="Follow-up assessment",
        duration_minutes=30,
        buffer_minutes=0,
        booked_at=when,
        practitioner=practitioner,
        status=status,
        completed_at=when + dt.timedelta(minutes=30) if status == SessionStatus.COMPLETED else None,
    )


# --- Seeds -----------------------------------------------------------------------------------------------


def test_the_defaults_load_once_and_never_overwrite_an_admins_wording():
    models.PoreGradeAnchor.objects.filter(grade=2).update(label="Our own words")
    again = load_default_outcome_items()
    assert again.anchors_created == [] and again.questions_created == []
    assert list(models.PoreGradeAnchor.objects.values_list("grade", flat=True)) == [0, 1, 2, 3, 4]
    assert models.PoreGradeAnchor.objects.get(grade=2).label == "Our own words"
    questions = {q.code: q for q in models.OutcomeQuestion.objects.all()}
    assert {"satisfaction", "pore-visibility", "recommend"} <= set(questions)
    assert questions["satisfaction"].value_range == (0, 10)
    assert questions["pore-visibility"].value_range == (1, 5)
    assert questions["recommend"].value_range == (0, 1) and not questions["recommend"].asked_at_baseline
    # Our own wording, not a licensed instrument's.
    assert not any("FACE-Q" in q.text for q in questions.values())


# --- The database refuses what must never be stored ---------------------------------------------------


@pytest.mark.parametrize(
    "fields, constraint",
    [
        ({"pore_grade": 5}, "outcome_pore_grade_0_4"),
        ({"moment": ScoreMoment.BASELINE, "gais": 2}, "outcome_gais_at_assessment_only"),
        ({"moment": ScoreMoment.ASSESSMENT, "gais": 6}, "outcome_gais_1_5"),
        ({"device_measurement": Decimal("41.5"), "device_name": ""}, "outcome_device_reading_names_device"),
    ],
)
def test_the_database_refuses_a_score_off_its_scales(completed_plan, aesthetician, fields, constraint):
    completed_plan.outcome_scores.all().delete()
    row = {"plan": completed_plan, "moment": ScoreMoment.ASSESSMENT, "pore_grade": 2, "gais": 2} | fields
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        OutcomeScore.objects.create(rated_by=aesthetician, rated_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC), **row)


# PostgreSQL names the constraint; SQLite names its columns.
ONE_PER_MOMENT = "one_outcome_score_per_plan_moment|plans_outcomescore.plan_id, plans_outcomescore.moment"


def test_the_database_keeps_one_score_per_plan_and_moment(completed_plan, aesthetician):
    with pytest.raises(IntegrityError, match=ONE_PER_MOMENT), transaction.atomic():
        OutcomeScore.objects.create(
            plan=completed_plan,
            moment=ScoreMoment.BASELINE,
            pore_grade=1,
            rated_by=aesthetician,
            rated_at=dt.datetime(2026, 1, 21, tzinfo=dt.UTC),
        )
    assert completed_plan.outcome_scores.get().pore_grade == 3


# --- score_record --------------------------------------------------------------------------------------


def test_a_baseline_rating_is_stored_and_a_re_rating_corrects_it_keeping_the_history(completed_plan, aesthetician):
    session = _fresh_baseline(completed_plan)
    score = score_record(
        plan=completed_plan,
        moment=ScoreMoment.BASELINE,
        pore_grade=3,
        device_measurement="41.50",
        device_name="  SkinScope 2 ",
        notes="Cheeks",
        rated_by=aesthetician,
    )
    assert (score.session_id, score.pore_grade, score.gais) == (session.pk, 3, None)
    assert (score.device_measurement, score.device_name) == (Decimal("41.50"), "SkinScope 2")
    again = score_record(plan=completed_plan, moment=ScoreMoment.BASELINE, pore_grade=2, rated_by=aesthetician)
    assert again.pk == score.pk and OutcomeScore.objects.get(pk=score.pk).pore_grade == 2
    assert OutcomeScore.objects.get(pk=score.pk).device_measurement is None
    assert [h.pore_grade for h in score.history.order_by("history_date")] == [3, 2]


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"pore_grade": 5}, "scale of 0 to 4"),
        ({"pore_grade": -1}, "scale of 0 to 4"),
        ({"pore_grade": "three"}, "Choose the pore grade"),
        ({"pore_grade": None}, "Choose the pore grade"),
        ({"gais": 2}, "assessment only"),
        ({"device_measurement": "41"}, "Name the device"),
        ({"device_name": "SkinScope"}, "no reading is given"),
        ({"device_measurement": "a lot", "device_name": "SkinScope"}, "must be a number"),
        ({"device_measurement": "1.234", "device_name": "SkinScope"}, "at most 2 decimals"),
        ({"moment": "halfway"}, "Unknown moment"),
    ],
)
def test_bad_ratings_are_refused_with_a_clear_message_and_change_nothing(completed_plan, aesthetician, fields, message):
    _fresh_baseline(completed_plan)
    kwargs = {"plan": completed_plan, "moment": ScoreMoment.BASELINE, "pore_grade": 2, "rated_by": aesthetician}
    with pytest.raises(ValidationError, match=message):
        score_record(**(kwargs | fields))
    assert not completed_plan.outcome_scores.exists()


def test_the_baseline_waits_for_session_1_and_the_assessment_for_the_follow_up(completed_plan, aesthetician):
    session = _fresh_baseline(completed_plan)
    models.PlanSession.objects.filter(pk=session.pk).update(status=SessionStatus.BOOKED, completed_at=None)
    with pytest.raises(ValidationError, match="rated at session 1"):
        score_record(plan=completed_plan, moment=ScoreMoment.BASELINE, pore_grade=2, rated_by=aesthetician)
    with pytest.raises(ValidationError, match="no follow-up assessment"):
        score_record(plan=completed_plan, moment=ScoreMoment.ASSESSMENT, pore_grade=1, gais=2, rated_by=aesthetician)
    follow_up = _follow_up(completed_plan, status=SessionStatus.BOOKED)
    with pytest.raises(ValidationError, match="at the follow-up visit"):
        score_record(plan=completed_plan, moment=ScoreMoment.ASSESSMENT, pore_grade=1, gais=2, rated_by=aesthetician)
    assert not completed_plan.outcome_scores.exists()
    models.PlanSession.objects.filter(pk=follow_up.pk).update(status=SessionStatus.COMPLETED)
    with pytest.raises(ValidationError, match="GAIS"):
        score_record(plan=completed_plan, moment=ScoreMoment.ASSESSMENT, pore_grade=1, rated_by=aesthetician)
    score = score_record(
        plan=completed_plan, moment=ScoreMoment.ASSESSMENT, pore_grade=1, gais=Gais.MUCH_IMPROVED, rated_by=aesthetician
    )
    assert (score.session_id, score.gais) == (follow_up.pk, 2)


def test_a_session_that_rates_another_moment_is_refused(completed_plan, aesthetician):
    _fresh_baseline(completed_plan)
    second = completed_plan.sessions.get(sequence=2)
    with pytest.raises(ValidationError, match="not where"):
        score_record(
            plan=completed_plan, moment=ScoreMoment.BASELINE, pore_grade=2, rated_by=aesthetician, session=second
        )


def test_front_desk_may_not_rate(completed_plan, front_desk):
    _fresh_baseline(completed_plan)
    with pytest.raises(ValidationError, match="Only a clinician or aesthetician"):
        score_record(plan=completed_plan, moment=ScoreMoment.BASELINE, pore_grade=2, rated_by=front_desk)
    assert not completed_plan.outcome_scores.exists()


# --- The record page ------------------------------------------------------------------------------------


def _anchor_beside_its_button(page: str, grade: int, description: str) -> bool:
    pattern = (
        rf'<input[^>]*name="score-pore_grade"[^>]*id="pore-grade-{grade}"[^>]*value="{grade}"[^>]*>\s*'
        rf'<label[^>]*for="pore-grade-{grade}">.*?data-anchor="{grade}">{re.escape(description)}</span>'
    )
    return re.search(pattern, page, re.S) is not None


def test_session_1s_record_page_shows_each_grade_with_its_anchor_and_rates_the_baseline(
    client, completed_plan, aesthetician
):
    session = _fresh_baseline(completed_plan)
    client.force_login(aesthetician)
    page = client.get(reverse("session-record", args=[session.pk])).content.decode()
    anchors = list(models.PoreGradeAnchor.objects.order_by("grade"))
    assert len(anchors) == len(DEFAULT_ANCHORS) == 5
    for anchor in anchors:
        assert _anchor_beside_its_button(page, anchor.grade, anchor.description), anchor.grade
    assert "unvalidated" in page and 'name="score-gais"' not in page  # no GAIS before treatment
    assert "Not rated yet" in page
    response = client.post(reverse("session-score", args=[session.pk]), {"score-pore_grade": "4"}, follow=True)
    assert response.status_code == 200
    assert completed_plan.outcome_scores.get().pore_grade == 4
    assert "Very marked" in response.content.decode()


def test_an_admins_reworded_anchor_is_what_the_page_shows(client, completed_plan, aesthetician):
    models.PoreGradeAnchor.objects.filter(grade=1).update(description="Only in the magnifier lamp.")
    client.force_login(aesthetician)
    page = client.get(reverse("session-record", args=[completed_plan.sessions.get(sequence=1).pk])).content.decode()
    assert _anchor_beside_its_button(page, 1, "Only in the magnifier lamp.")


def test_the_follow_up_record_page_rates_the_pore_grade_and_gais_and_refuses_bad_input(
    client, completed_plan, aesthetician
):
    follow_up = _follow_up(completed_plan)
    client.force_login(aesthetician)
    page = client.get(reverse("session-record", args=[follow_up.pk])).content.decode()
    assert 'name="score-gais"' in page and "Much improved" in page and "unvalidated" in page
    url = reverse("session-score", args=[follow_up.pk])
    refused = client.post(url, {"score-pore_grade": "1"})
    assert refused.status_code == 400 and not completed_plan.outcome_scores.filter(moment="assessment").exists()
    for bad in ({"score-pore_grade": "9", "score-gais": "2"}, {"score-pore_grade": "1", "score-gais": "0"}):
        assert client.post(url, bad).status_code == 400
    assert not completed_plan.outcome_scores.filter(moment="assessment").exists()
    done = client.post(url, {"score-pore_grade": "1", "score-gais": "2", "score-device_measurement": "38.2",
                             "score-device_name": "SkinScope"})  # fmt: skip
    assert done.status_code == 302
    score = completed_plan.outcome_scores.get(moment="assessment")
    assert (score.pore_grade, score.gais, score.device_measurement) == (1, 2, Decimal("38.20"))
    plan_page = client.get(reverse("plan-detail", args=[completed_plan.pk])).content.decode()
    assert "Change in pore grade since baseline" in plan_page and "<strong>-2</strong>" in plan_page


def test_signing_off_session_1_with_a_refused_rating_completes_nothing(client, clinic, frozen_clock, aesthetician):  # noqa: F811
    (s,) = book_plans(clinic, 1)
    frozen_clock.move_to(at(MON, 12))
    client.force_login(aesthetician)
    record_check(s, by=aesthetician)
    form = record_post(s) | {"from_record": "1", "score-device_measurement": "12", "score-pore_grade": "2"}
    response = client.post(reverse("session-complete", args=[s.pk]), form)
    assert response.status_code == 400 and "Name the device" in response.content.decode()
    s.refresh_from_db()
    assert s.status == SessionStatus.BOOKED and not s.outcome_scores.exists()


# --- Who sees the scores ---------------------------------------------------------------------------------


def test_front_desk_sees_no_score_on_the_plan_client_and_session_pages(client, world, completed_plan, front_desk):
    client.force_login(front_desk)
    session = completed_plan.sessions.get(sequence=1)
    pages = [
        client.get(reverse("plan-detail", args=[completed_plan.pk])),
        client.get(reverse("client-detail", args=[world.client.pk])),
        client.get(reverse("session-panel", args=[session.pk])),
    ]
    assert all(p.status_code == 200 for p in pages)
    text = " ".join(p.content.decode() for p in pages).lower()
    for needle in ("pore grade", "gais", "outcomes", SCORE_NOTES.lower(), "questionnaire-answers", "none visible"):
        assert needle not in text, needle
    assert client.get(reverse("session-record", args=[session.pk])).status_code == 403
    assert client.post(reverse("session-score", args=[session.pk]), {"score-pore_grade": "1"}).status_code == 403
    assert completed_plan.outcome_scores.get().pore_grade == 3


def test_an_aesthetician_sees_the_scores_on_the_plan_and_client_pages(client, world, completed_plan, aesthetician):
    client.force_login(aesthetician)
    plan_page = client.get(reverse("plan-detail", args=[completed_plan.pk])).content.decode()
    assert 'data-moment="baseline"' in plan_page and "<td data-pore-grade>3</td>" in plan_page
    assert SCORE_NOTES in plan_page
    client_page = client.get(reverse("client-detail", args=[world.client.pk])).content.decode()
    assert "Pore grade (0–4):\n          3 at baseline</p>" in client_page
    _follow_up(completed_plan)
    outcomes.score_record(plan=completed_plan, moment="assessment", pore_grade=1, gais=2, rated_by=aesthetician)
    completed_plan.refresh_from_db()  # the report's and the evidence's columns follow the scores
    assert (completed_plan.outcome_change, completed_plan.outcome_gais) == (-2, 2)
    client_page = client.get(reverse("client-detail", args=[world.client.pk])).content.decode()
    assert "3 at baseline → 1 at the assessment · GAIS: Much improved" in client_page


def test_outcomes_services_refuse_unknown_moments_for_rating():
    assert outcomes.rating_refusal(plan=models.TreatmentPlan(), moment="x", sessions=[]) == "Unknown moment 'x'."


# --- The admin: anchors and questions are the clinic's wording; scores and answers are read-only ------------


def test_the_clinic_admin_rewords_an_anchor_and_a_question_but_cannot_add_a_grade_or_edit_a_score(
    client, clinic_admin, completed_plan
):
    client.force_login(clinic_admin)
    anchor = models.PoreGradeAnchor.objects.get(grade=2)
    response = client.post(
        reverse("admin:plans_poregradeanchor_change", args=[anchor.pk]),
        {"label": "Moderate", "description": "Visible at arm's length on the nose and inner cheeks."},
    )
    assert response.status_code == 302
    anchor.refresh_from_db()
    assert anchor.description == "Visible at arm's length on the nose and inner cheeks." and anchor.grade == 2
    assert client.get(reverse("admin:plans_poregradeanchor_add")).status_code == 403
    question = models.OutcomeQuestion.objects.get(code="satisfaction")
    page = client.get(reverse("admin:plans_outcomequestion_change", args=[question.pk]))
    assert page.status_code == 200 and 'name="text"' in page.content.decode()
    score = completed_plan.outcome_scores.get()
    score_page = client.get(reverse("admin:plans_outcomescore_change", args=[score.pk])).content.decode()
    assert 'name="pore_grade"' not in score_page and SCORE_NOTES in score_page
    assert client.get(reverse("admin:plans_outcomescore_add")).status_code == 403
    assert client.get(reverse("admin:plans_questionnaireresponse_changelist")).status_code == 200
    assert client.get(reverse("admin:plans_questionnaireresponse_add")).status_code == 403
