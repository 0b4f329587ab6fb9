"""Outcome writes through the front door, on PostgreSQL behind gunicorn, requests released together:
two submits of one questionnaire link store one set of answers (the other gets the "already
received" page, 409), and two practitioners rating one plan's baseline at once leave one score
whose history holds both ratings. Never a 500."""

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from bench.server import staff_cookies
from plans.models import OutcomeScore, QuestionnaireAnswer, QuestionnaireResponse, ScoreMoment
from plans.outbox.links import questionnaire_url
from plans.services.outcomes import load_default_outcome_items
from tests.factories import ClientFactory
from tests.helpers.http_races import NEEDS_POSTGRES, ON_POSTGRES, fire_each
from tests.helpers.outbox import book
from tests.helpers.plans import booked_plan

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason=NEEDS_POSTGRES),
    pytest.mark.django_db(transaction=True),
]
ROUNDS = 6


def _anonymous() -> dict:
    """A client's phone: only the CSRF cookie the questionnaire page set."""
    return {settings.CSRF_COOKIE_NAME: "q" * 32}


def test_two_submits_of_one_questionnaire_link_store_one_set_of_answers_and_no_500(race_server, db):
    load_default_outcome_items()  # a transactional test starts from a flushed database
    for n in range(ROUNDS):
        plan = booked_plan(client=ClientFactory(first_name=f"Racer{n}"), starts=[timezone.now() + dt.timedelta(days=9)])
        book(plan)
        response = QuestionnaireResponse.objects.get(plan=plan)
        path = questionnaire_url(response).removeprefix(settings.CLINIC_BASE_URL)
        answers = [{"satisfaction": "3", "pore-visibility": "4"}, {"satisfaction": "8", "pore-visibility": "2"}]
        results = fire_each(race_server, [(path, a, _anonymous()) for a in answers], json=False)
        statuses = sorted(status for status, _body in results)
        assert statuses == [200, 409], statuses
        loser = next(body for status, body in results if status == 409).decode()
        assert "already have your answers" in loser
        response.refresh_from_db()
        stored = sorted(QuestionnaireAnswer.objects.filter(response=response).values_list("value", flat=True))
        assert response.submitted_at is not None and stored in ([3, 4], [2, 8]), stored


def test_two_ratings_of_one_baseline_at_once_leave_one_score_and_no_500(race_server, world, completed_plan):
    load_default_outcome_items()
    session = completed_plan.sessions.get(sequence=1)
    cookies = staff_cookies("ana")
    for _ in range(ROUNDS):
        OutcomeScore.objects.filter(plan=completed_plan).delete()
        statuses = [
            status
            for status, _body in fire_each(
                race_server,
                [
                    (f"/sessions/{session.pk}/score/", {"score-pore_grade": "1"}, cookies),
                    (f"/sessions/{session.pk}/score/", {"score-pore_grade": "4"}, cookies),
                ],
            )
        ]
        assert statuses == [200, 200], statuses
        score = OutcomeScore.objects.get(plan=completed_plan, moment=ScoreMoment.BASELINE)
        assert score.pore_grade in (1, 4)
        # The second rating corrected the first: both are in the history, the row is the later one.
        assert sorted(h.pore_grade for h in score.history.all()) == [1, 4]
        assert score.history.latest().pore_grade == score.pore_grade
