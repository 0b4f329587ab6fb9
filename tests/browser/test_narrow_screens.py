"""Staff use the app on tablets and phones: every staff page fits 1440, 768 and 390 px without
scrolling sideways, and below 992 px the menu folds behind a button instead of filling the top."""

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

WIDTHS = (1440, 768, 390)
# The outermost elements reaching past the right edge, to name in a failure.
WIDEST = """() => [...document.querySelectorAll('main *')]
  .filter(e => e.getBoundingClientRect().right > innerWidth + 0.5
    && !(e.parentElement.getBoundingClientRect().right > innerWidth + 0.5))
  .slice(0, 5).map(e => `${e.tagName.toLowerCase()}.${e.className} "${e.textContent.trim().slice(0, 40)}"`)"""
# SCREENSHOTS=1 keeps a picture of each page at each width in test-results/, to look at.
KEEP = bool(os.environ.get("SCREENSHOTS"))


def _pages(world, plan):
    return {
        "today": "/",
        "calendar": "/calendar/?date=2026-01-19",
        "day-list": "/calendar/day/?date=2026-01-20",
        "clients": "/clients/",
        "client": f"/clients/{world.client.pk}/",
        "plan": f"/plans/{plan.pk}/",
        "book": f"/plans/{plan.pk}/book/",
        "emails": "/messages/?status=all",
        "new-client forms": "/intake/",
        "record": f"/sessions/{plan.sessions.get(sequence=1).pk}/record/",
        "adverse event": f"/adverse-events/{world.event.pk}/",
        "new adverse event": f"/clients/{world.client.pk}/adverse-events/new/",
    }


@pytest.mark.parametrize("who", ["aesthetician", "front_desk"])
def test_every_staff_page_fits_each_width_and_the_menu_folds_on_small_screens(
    log_in,
    page,
    live_server,
    world,
    completed_plan,
    request,
    who,
):
    log_in(request.getfixturevalue(who))
    too_wide = []
    for name, path in _pages(world, completed_plan).items():
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if overflow > 0:
                too_wide.append(f"{name} at {width} px: {overflow} px too wide, {page.evaluate(WIDEST)}")
            toggler = page.locator(".navbar-toggler")
            if width < 992:
                assert toggler.is_visible(), f"{name} at {width} px shows no menu button"
                assert not page.locator("#main-nav").is_visible(), f"{name} at {width} px shows the whole menu"
            else:
                assert not toggler.is_visible() and page.locator("#main-nav").is_visible()
            if KEEP:
                Path("test-results").mkdir(exist_ok=True)
                page.screenshot(path=f"test-results/narrow-{who}-{name}-{width}.png", full_page=True)
    assert not too_wide, "\n".join(too_wide)


def test_the_folded_menu_opens_and_reaches_every_page(log_in, page, live_server, aesthetician):
    log_in(aesthetician)
    page.set_viewport_size({"width": 390, "height": 800})
    page.reload()
    page.locator(".navbar-toggler").click()
    page.get_by_role("link", name="Clients", exact=True).click()  # not "New clients"
    page.wait_for_url(f"{live_server.url}/clients/")


def test_on_a_phone_the_client_page_folds_its_email_history_until_asked(
    log_in, page, live_server, world, completed_plan, aesthetician
):
    log_in(aesthetician)
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{live_server.url}/clients/{world.client.pk}/")
    page.locator("#message-timeline").wait_for(state="attached")  # loaded by htmx, folded away
    assert not page.locator("#message-timeline").is_visible()
    page.get_by_role("button", name="Show emails").click()
    page.locator("#message-timeline").wait_for(state="visible")

    page.set_viewport_size({"width": 768, "height": 900})
    page.reload()
    page.locator("#message-timeline").wait_for(state="visible")  # from 768 px it is always open
    assert not page.get_by_role("button", name="Show emails").is_visible()
