"""The tablet journey in Chromium with its fake camera: take the assessment's front photo with the
baseline lined up over the live picture, then compare it with the baseline on the slider (keyboard),
at a tablet's and a phone's width too."""

import io
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from playwright.sync_api import expect

from plans import models
from plans.services import photos as photo_services
from tests.browser.conftest import PASSWORD
from tests.helpers.photos import face_jpeg, photo_visits

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = Path("test-results")


@pytest.fixture
def camera_page(page):
    # 127.0.0.1 is a secure context: getUserMedia is offered over plain HTTP there; the shared
    # browser runs with Chromium's fake camera (tests/browser/conftest.py).
    page.set_viewport_size({"width": 1440, "height": 900})
    return page


def not_blank(png: bytes) -> bool:
    stat = ImageStat.Stat(Image.open(io.BytesIO(png)).convert("L"))
    return stat.stddev[0] > 10


def test_take_a_photo_with_the_camera_then_compare_it_on_the_slider(camera_page, live_server, aesthetician):
    page = camera_page
    visits = photo_visits(practitioner=aesthetician.practitioner)
    front = visits.views[0]
    baseline = photo_services.photo_take(session=visits.baseline, view=front, data=face_jpeg(), by=aesthetician)

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("ana")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/sessions/{visits.assessment.pk}/photos/")
    card = page.locator(".photo-slot[data-view=front]")
    card.get_by_role("button", name="Start camera").click()
    expect(card.locator("video")).to_be_visible()
    overlay = card.locator("img.photo-overlay")
    expect(overlay).to_be_visible()
    assert float(overlay.evaluate("el => getComputedStyle(el).opacity")) < 1
    page.wait_for_function("document.querySelector('.photo-slot[data-view=front] video').videoWidth > 0")
    card.get_by_role("button", name="Take Front photo").click()
    expect(card.get_by_text("Saved.")).to_be_visible()
    taken = models.Photo.objects.get(session=visits.assessment, view=front)
    assert taken.taken_by == aesthetician and taken.width > 0
    expect(card.locator("img.photo-taken")).to_be_visible()
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / "photos-capture-1440.png"), full_page=True)

    page.goto(f"{live_server.url}/clients/{visits.client.pk}/photos/")
    expect(page.locator("#ba-before")).to_have_value(str(baseline.pk))
    expect(page.locator("#ba-after")).to_have_value(str(taken.pk))
    slider = page.locator("#ba-slider")
    page.wait_for_function("[...document.querySelectorAll('#ba-slider img')].every(i => i.complete && i.naturalWidth)")
    top = slider.locator(".ba-top")
    assert top.evaluate("el => el.style.clipPath") == "inset(0px 50% 0px 0px)"
    page.locator("#ba-range").focus()
    for _ in range(10):
        page.keyboard.press("ArrowLeft")
    assert top.evaluate("el => el.style.clipPath") == "inset(0px 60% 0px 0px)"
    assert not_blank(slider.screenshot())
    for width in (1440, 768, 390):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), width
        page.screenshot(path=str(SHOTS / f"photos-before-after-{width}.png"), full_page=True)
    page.goto(f"{live_server.url}/sessions/{visits.assessment.pk}/photos/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(SHOTS / "photos-capture-390.png"), full_page=True)
