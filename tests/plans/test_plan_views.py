"""New plan: preview writes nothing, Accept makes one plan (even when posted twice), refusals are plain."""

import datetime as dt

import pytest
from django.urls import reverse

from plans.models import TreatmentPlan
from plans.services import clients
from tests.factories import ClientFactory
from tests.plans.factories import NO_TO_ALL


@pytest.fixture
def browser_client(client, aesthetician):
    client.force_login(aesthetician)
    return client


@pytest.fixture
def screened(protocol, aesthetician):
    def make(**answers):
        person = ClientFactory()
        clients.screening_record(client=person, answers={**NO_TO_ALL, **answers}, screened_by=aesthetician)
        return person

    return make


def start():
    return dt.date.today() + dt.timedelta(days=7)


def test_preview_shows_the_timeline_and_rationale_without_writing(browser_client, screened):
    person = screened()
    response = browser_client.get(reverse("plan-new", args=[person.pk]), {"start": start().isoformat()})

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="timeline"' in page and 'id="rationale"' in page and "Accept plan" in page
    assert "Microneedling 3 of 3" in page
    assert not TreatmentPlan.objects.exists()


def test_accepting_twice_with_the_same_token_makes_one_plan(browser_client, screened):
    person = screened()
    data = {"start": start().isoformat(), "token": "same-form"}

    first = browser_client.post(reverse("plan-new", args=[person.pk]), data)
    second = browser_client.post(reverse("plan-new", args=[person.pk]), data)

    plan = TreatmentPlan.objects.get()
    assert first["Location"] == second["Location"] == reverse("plan-detail", args=[plan.pk])
    page = browser_client.get(first["Location"]).content.decode()
    assert "Microneedling session 1 of 3" in page and "Protocol snapshot" in page and "Recompute plan" in page


def test_a_hard_stop_shows_the_reason_and_no_accept_button(browser_client, screened):
    person = screened(pregnant_nursing=(True, None))
    response = browser_client.get(reverse("plan-new", args=[person.pk]), {"start": start().isoformat()})

    page = response.content.decode()
    assert "No plan: hard stop" in page and "Pregnancy or nursing" in page
    assert "Accept plan" not in page


def test_a_plan_with_a_review_item_is_accepted_without_a_checkbox_and_waits_for_signoff(browser_client, screened):
    person = screened(anticoagulants=(True, None))
    url = reverse("plan-new", args=[person.pk])
    preview = browser_client.get(url, {"start": start().isoformat()}).content.decode()
    assert "Needs a clinician" in preview and 'name="acknowledge_review"' not in preview

    browser_client.post(url, {"start": start().isoformat(), "token": "t"}, follow=True)

    plan = TreatmentPlan.objects.get()
    assert plan.review_pending and plan.review_acknowledged_by is None


def test_a_start_in_the_past_is_a_field_error(browser_client, screened):
    person = screened()
    response = browser_client.get(reverse("plan-new", args=[person.pk]), {"start": "2020-01-01"})

    assert "The start date is in the past." in response.content.decode()
    assert response.context["proposal"] is None


def test_recompute_from_the_plan_page(browser_client, screened):
    person = screened()
    browser_client.post(reverse("plan-new", args=[person.pk]), {"start": start().isoformat(), "token": "x"})
    plan = TreatmentPlan.objects.get()
    later = start() + dt.timedelta(days=14)

    response = browser_client.post(reverse("plan-recompute", args=[plan.pk]), {"start": later.isoformat()})

    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.requested_start == later
