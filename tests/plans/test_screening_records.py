"""Screenings are records: never edited in place, corrected by a new dated screen, too old to plan from in time."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from plans.models import Screening, ScreeningAnswer, ScreeningImmutable
from plans.services import clients
from plans.services import plans as plan_services
from tests.factories import ClientFactory
from tests.plans.factories import NO_TO_ALL


def test_a_saved_answer_cannot_be_changed_in_place(protocol, aesthetician):
    """Reproduced: a dated pregnancy 'yes' was changed to 'no' in place, still credited to the screener."""
    person = ClientFactory()
    screening = clients.screening_record(
        client=person, answers={**NO_TO_ALL, "pregnant_nursing": (True, None)}, screened_by=aesthetician
    )
    answer = screening.answers.get(question__code="pregnant_nursing")

    answer.answer = False
    with pytest.raises(ScreeningImmutable):
        answer.save()

    assert ScreeningAnswer.objects.get(pk=answer.pk).answer is True


def test_a_saved_screening_cannot_be_redated_or_credited_to_someone_else(protocol, aesthetician, clinic_admin):
    screening = clients.screening_record(client=ClientFactory(), answers=NO_TO_ALL, screened_by=aesthetician)

    for field, value in (("screened_on", dt.date(2020, 1, 1)), ("screened_by", clinic_admin)):
        fresh = Screening.objects.get(pk=screening.pk)
        setattr(fresh, field, value)
        with pytest.raises(ScreeningImmutable):
            fresh.save()

    screening.refresh_from_db()
    assert screening.screened_by == aesthetician and screening.screened_on == timezone.localdate()


def test_a_correction_is_a_new_dated_screen_with_a_reason_and_the_plan_uses_it(protocol, aesthetician, clinic_admin):
    person = ClientFactory()
    first = clients.screening_record(
        client=person, answers={**NO_TO_ALL, "pregnant_nursing": (True, None)}, screened_by=aesthetician
    )
    start = dt.date.today() + dt.timedelta(days=14)
    assert plan_services.plan_preview(client=person, start=start).is_hard_stop

    corrected = clients.screening_correct(
        screening=first, answers=NO_TO_ALL, reason="Misheard: client is not pregnant", screened_by=clinic_admin
    )

    assert corrected.pk != first.pk and corrected.corrects == first
    assert corrected.screened_by == clinic_admin and corrected.correction_reason.startswith("Misheard")
    assert first.answers.get(question__code="pregnant_nursing").answer is True, "the original record stands"
    assert first.screened_by == aesthetician
    assert plan_services.plan_preview(client=person, start=start).ok


def test_a_correction_needs_a_reason(protocol, aesthetician):
    person = ClientFactory()
    first = clients.screening_record(client=person, answers=NO_TO_ALL, screened_by=aesthetician)

    with pytest.raises(ValidationError):
        clients.screening_correct(screening=first, answers=NO_TO_ALL, reason="  ", screened_by=aesthetician)
    assert Screening.objects.filter(client=person).count() == 1


def test_a_screening_two_years_old_cannot_make_a_plan(protocol, aesthetician, client):
    """Reproduced: a plan was made from a screening dated two years earlier, without warning."""
    person = ClientFactory()
    with time_machine.travel(dt.datetime(2024, 3, 1, 9, tzinfo=dt.UTC), tick=False):
        clients.screening_record(client=person, answers=NO_TO_ALL, screened_by=aesthetician)

    with time_machine.travel(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), tick=False):
        with pytest.raises(plan_services.PlanHardStop, match="re-screen the client"):
            plan_services.plan_create(client=person, start=dt.date(2026, 3, 16), created_by=aesthetician)
        client.force_login(aesthetician)
        page = client.get(reverse("plan-new", args=[person.pk]), {"start": "2026-03-16"}).content.decode()

    assert "re-screen the client" in page and "Accept plan" not in page


def test_a_screening_within_the_allowed_age_still_plans(protocol, aesthetician, settings):
    settings.SCREENING_MAX_AGE_DAYS = 30
    person = ClientFactory()
    with time_machine.travel(dt.datetime(2026, 2, 1, 9, tzinfo=dt.UTC), tick=False):
        clients.screening_record(client=person, answers=NO_TO_ALL, screened_by=aesthetician)
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC), tick=False):
        assert plan_services.plan_preview(client=person, start=dt.date(2026, 3, 16)).ok
    with time_machine.travel(dt.datetime(2026, 3, 4, 9, tzinfo=dt.UTC), tick=False):
        assert plan_services.plan_preview(client=person, start=dt.date(2026, 3, 16)).is_hard_stop


def test_an_unanswered_hard_stop_question_blocks_plan_creation(protocol, aesthetician):
    person = ClientFactory()
    screening = clients.screening_record(client=person, answers=NO_TO_ALL, screened_by=aesthetician)
    # A screen taken before the question existed: its answer is simply not there.
    ScreeningAnswer.objects.filter(screening=screening, question__code="pregnant_nursing").delete()

    with pytest.raises(plan_services.PlanHardStop, match="Not answered"):
        plan_services.plan_create(client=person, start=dt.date.today() + dt.timedelta(days=14), created_by=aesthetician)
