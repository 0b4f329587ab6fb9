"""The plan flow in a real browser: intake, preview with rationale, Accept; a hard stop cannot be accepted."""

import datetime as dt
import os
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from plans.models import TreatmentPlan
from plans.services import clients
from tests.factories import ClientFactory
from tests.plans.factories import NO_TO_ALL, clinic_protocol


@pytest.fixture
def protocol(db):
    return clinic_protocol(name="Pores, all skin types", code="pores-all")


@pytest.mark.django_db(transaction=True)
def test_an_aesthetician_takes_a_new_client_from_intake_to_an_accepted_plan(
    log_in, live_server, aesthetician, protocol
):
    page = log_in(aesthetician)
    page.get_by_role("link", name="Clients", exact=True).click()  # not "New clients"
    page.get_by_role("link", name="New client", exact=True).click()

    page.get_by_label("First name").fill("Rosa")
    page.get_by_label("Last name").fill("Lopes")
    page.get_by_label("Date of birth").fill("1988-04-02")
    page.get_by_label("Email", exact=True).fill("rosa@example.com")
    page.get_by_label("Phone").fill("+44 7700 900111")
    page.get_by_label("Fitzpatrick type").select_option("2")
    page.get_by_label("Oiliness").select_option("normal")
    page.get_by_label("Pore concern").select_option("mild")
    for code in NO_TO_ALL:
        page.locator(f"input[name='screen_{code}'][value='no']").check()
    page.get_by_role("button", name="Save client").click()

    expect(page.get_by_role("heading", name="Rosa Lopes")).to_be_visible()
    expect(page.locator("#screening-status")).to_contain_text("No contraindication answered yes")

    page.get_by_role("link", name="New plan").click()
    start = dt.date.today() + dt.timedelta(days=7)
    page.get_by_label("Requested start").fill(start.isoformat())
    page.get_by_role("button", name="Preview plan").click()

    expect(page.get_by_role("heading", name="Preview: Pores, all skin types")).to_be_visible()
    expect(page.locator("#timeline .timeline-row[data-kind='mn']")).to_have_count(3)
    rationale = page.locator("#rationale")
    expect(rationale).to_contain_text("Protocol Pores, all skin types chosen")
    expect(rationale).to_contain_text("Needle depth per session")
    assert not TreatmentPlan.objects.exists(), "the preview writes nothing"

    page.get_by_label("Superficial glycolic peel").check()
    page.get_by_role("button", name="Preview plan").click()
    expect(page.locator("#timeline .timeline-row[data-kind='combination']")).to_have_count(2)

    # The decision fits the first screen: Accept sits above the timeline, the rationale and the care notes.
    accept = page.get_by_role("button", name="Accept plan")
    assert accept.bounding_box()["y"] + accept.bounding_box()["height"] <= 900
    for width in (1440, 768, 390):
        page.set_viewport_size({"width": width, "height": 900})
        if os.environ.get("SCREENSHOTS"):
            out = Path(tempfile.gettempdir()) / "plan-shots"
            out.mkdir(exist_ok=True)
            page.screenshot(path=str(out / f"preview-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), width
    page.set_viewport_size({"width": 1400, "height": 900})

    accept.click()
    expect(page.get_by_text("Plan accepted")).to_be_visible()
    expect(page.locator("#plan-sessions")).to_contain_text("Microneedling session 1 of 3")
    expect(page.locator("#protocol-snapshot")).to_contain_text("pores-all")

    page.get_by_role("link", name="← Rosa Lopes").click()
    card = page.locator(".plan-card")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("Pores, all skin types")
    expect(card).to_contain_text("Superficial glycolic peel between sessions 1 and 2")
    assert TreatmentPlan.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_client_with_a_hard_stop_sees_the_reason_and_no_accept_button(log_in, live_server, aesthetician, protocol):
    person = ClientFactory(first_name="Ines", last_name="Moura")
    clients.screening_record(
        client=person, answers={**NO_TO_ALL, "pregnant_nursing": (True, None)}, screened_by=aesthetician
    )
    page = log_in(aesthetician)
    page.goto(f"{live_server.url}/clients/{person.pk}/")
    expect(page.locator("#screening-flags")).to_contain_text("Pregnant or nursing?")

    page.get_by_role("link", name="New plan").click()
    page.get_by_label("Requested start").fill((dt.date.today() + dt.timedelta(days=7)).isoformat())
    page.get_by_role("button", name="Preview plan").click()

    outcome = page.locator("#plan-outcome")
    expect(outcome).to_contain_text("No plan: hard stop")
    expect(outcome).to_contain_text("Pregnancy or nursing (SkinPen IFU)")
    expect(outcome).to_contain_text("What to do next")
    expect(page.get_by_role("button", name="Accept plan")).to_have_count(0)
