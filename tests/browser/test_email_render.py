"""A real reminder, built by build_email with its CSS inlined, rendered in the suite's Chromium as a
phone (390 px) and a desktop mail client (1024 px) would show it: nothing scrolls sideways and the
buttons are there, big enough for a thumb."""

from __future__ import annotations

import pytest

from tests.helpers.emails import html_of, one_message_per_family, rendered

pytestmark = pytest.mark.django_db

BUTTONS = """() => [...document.querySelectorAll('a.button')].map(a => {
  const r = a.getBoundingClientRect();
  return {label: a.textContent.trim(), width: r.width, height: r.height, right: r.right, top: r.top,
          visible: r.width > 0 && r.height > 0 && getComputedStyle(a).visibility !== 'hidden',
          background: getComputedStyle(a).backgroundColor};
})"""


@pytest.mark.parametrize("family", ["reminder", "confirmation", "consent_request"])
def test_the_email_fits_a_phone_and_a_desktop_with_thumb_sized_buttons(page, tmp_path, family):
    html = html_of(rendered(one_message_per_family()[family]))
    # Mail clients show the HTML without the app's server: no network, as set_content renders it.
    for width in (390, 1024):
        page.set_viewport_size({"width": width, "height": 900})
        page.set_content(html)
        page.screenshot(path=str(tmp_path / f"{family}-{width}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{family} at {width} px scrolls sideways by {overflow} px"
        buttons = page.evaluate(BUTTONS)
        assert buttons, f"{family} shows no button"
        for button in buttons:
            assert button["visible"] and button["right"] <= width, (width, button)
            if width == 390:
                assert button["height"] >= 44, (width, button)
        column = page.evaluate("document.querySelector('table.container').getBoundingClientRect().width")
        assert column <= 600 and (width > 600 or column == width), (width, column)
    if family == "reminder":
        labels = [b["label"] for b in buttons]
        assert labels[:1] == ["Confirm you will attend"] and "Cancel this appointment" in labels
        # The brand colour, as the browser paints it (rgb of #0f766e), not a class in a dropped style sheet.
        assert buttons[0]["background"] == "rgb(15, 118, 110)"


@pytest.mark.django_db(transaction=True)
def test_the_clients_page_and_move_page_fit_a_phone_in_the_clinic_colour(page, live_server, clinic, tmp_path):
    import datetime as dt

    import time_machine

    from plans import scheduling
    from plans.services import booking, selfservice
    from tests.helpers.clock import at
    from tests.helpers.plans import plan_to_book

    with time_machine.travel(at(dt.date(2027, 2, 1), 8), tick=False):
        plan = plan_to_book(first_target=dt.date(2027, 3, 1))
        preferences = scheduling.Preferences(practitioner_id=clinic["ana"].id)
        proposal = booking.series_propose(plan=plan, preferences=preferences)
        booking.series_book(plan=plan, proposal=proposal.result.bookings)
        url = selfservice.client_page_url(client=plan.client).replace("http://127.0.0.1:8000", live_server.url)
        for width in (390, 1024):
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(url)
            page.screenshot(path=str(tmp_path / f"client-page-{width}.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0, width
            header = page.locator("#public-header")
            assert header.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(15, 118, 110)"
            move = page.get_by_role("link", name="Move this appointment").first
            assert move.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(15, 118, 110)"
            assert move.bounding_box()["height"] >= 44
        page.set_viewport_size({"width": 390, "height": 900})
        page.get_by_role("link", name="Move this appointment").first.click()
        page.wait_for_selector("h1")
        page.screenshot(path=str(tmp_path / "move-390.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
