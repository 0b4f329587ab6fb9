"""Issue #16 in a real browser: a pregnancy recorded after the plan was accepted flags the plan,
booking is refused, and a clinician logs in and stops the plan."""

import datetime as dt

import pytest
from playwright.sync_api import expect

from plans.models import PlanStatus
from plans.roles import CLINICIAN
from plans.services import clients
from plans.services import plans as plan_services
from plans.services.security import user_set_role
from tests.factories import ClientFactory, UserFactory
from tests.plans.factories import NO_TO_ALL, clinic_protocol


@pytest.mark.django_db(transaction=True)
def test_pregnancy_after_acceptance_flags_the_plan_refuses_booking_and_a_clinician_stops_it(
    browser, log_in, live_server, aesthetician
):
    clinic_protocol(name="Pores, all skin types", code="pores-all")
    person = ClientFactory(first_name="Rosa", last_name="Lopes")
    clients.screening_record(client=person, answers=NO_TO_ALL, screened_by=aesthetician)
    plan = plan_services.plan_create(
        client=person, start=dt.date.today() + dt.timedelta(days=7), created_by=aesthetician
    )
    clinician = user_set_role(user=UserFactory(username="drkay", first_name="Kay", last_name="Adeyemi"), role=CLINICIAN)

    page = log_in(aesthetician)
    page.goto(f"{live_server.url}/clients/{person.pk}/edit/")
    page.locator("input[name='screen_pregnant_nursing'][value='yes']").check()
    page.get_by_role("button", name="Save client").click()

    page.goto(f"{live_server.url}/plans/{plan.pk}/")
    expect(page.locator("#clinical-hold")).to_contain_text("a clinician must decide")
    expect(page.locator("#hold-reasons")).to_contain_text("Pregnant or nursing")
    expect(page.locator("#booking-refused")).to_contain_text("clinical hold")
    expect(page.get_by_role("link", name="Book sessions")).to_have_count(0)
    expect(page.locator("#hold-decision")).to_have_count(0)  # an aesthetician cannot decide
    # Opening the booking page directly and asking for a proposal is refused too.
    page.goto(f"{live_server.url}/plans/{plan.pk}/book/?propose=1&part_of_day=any")
    expect(page.get_by_text("clinical hold")).to_be_visible()
    page.get_by_role("button", name=f"Log out {aesthetician.username}").click()

    page = log_in(clinician)
    page.goto(f"{live_server.url}/plans/{plan.pk}/")
    page.get_by_label("Stop the plan (cancels its booked sessions)").check()
    page.get_by_label("What was decided and why").fill("Pregnant: no microneedling until after breastfeeding")
    page.get_by_role("button", name="Record decision").click()

    expect(page.get_by_text("Decision recorded.")).to_be_visible()
    expect(page.locator("#plan-status")).to_have_text("Cancelled")
    expect(page.locator("#past-holds")).to_contain_text("plan stopped by Kay Adeyemi")
    plan.refresh_from_db()
    assert plan.status == PlanStatus.CANCELLED
