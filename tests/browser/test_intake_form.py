"""A new person fills in their intake and screening in Chromium at a phone's width (390 px), from
the emailed link: every field reachable, nothing wider than the screen, one yes with its date,
and the page then tells them plainly the clinic will call."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from plans.models import IntakeInvitation
from plans.outbox.links import intake_token
from plans.services import intake
from tests.browser.test_photo_flow import not_blank
from tests.plans.factories import clinic_protocol

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_intake_form_fills_in_at_390_px_from_the_link(page, live_server, front_desk, tmp_path):
    clinic_protocol()
    invitation = intake.intake_invite(first_name="Nina", last_name="Hart", email="nina@example.com", by=front_desk)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + reverse("public-intake", args=[intake_token(invitation)]))
    expect(page.get_by_role("heading", name="Before your first consultation")).to_be_visible()

    page.get_by_label("Your date of birth").fill("1990-05-01")
    page.get_by_label("The best number to call you on").fill("+44 7700 900222")
    page.get_by_label("You may email me reminders and aftercare notes").check()
    page.get_by_label("How oily is your skin, in your own view?").select_option("oily")
    page.get_by_label("How much do your pores bother you?").select_option("moderate")
    page.get_by_role("button", name="No to all").click()
    expect(page.locator("#screening-summary")).to_contain_text("all answered")
    page.get_by_role("radio", name="Taken isotretinoin? Yes").check()
    last_dose = timezone.localdate() - dt.timedelta(days=60)
    page.locator("#id_screen_isotretinoin_date").fill(last_dose.isoformat())

    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    shot = tmp_path / "intake-390.png"
    png = page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0 and not_blank(png)

    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("heading", name="We will call you")).to_be_visible()
    expect(page.locator("#link-text")).to_contain_text("we will call you")
    saved = IntakeInvitation.objects.get()
    assert saved.needs_call and saved.answers["screening"]["isotretinoin"] == [True, last_dose.isoformat()]
