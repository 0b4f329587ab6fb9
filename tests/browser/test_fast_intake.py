"""The intake's screening is one compact table: "No to all", then only the exceptions; a
re-screen starts from the client's answers and highlights what changed."""

import os
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from plans.models import Client, ScreeningQuestion
from plans.services import clients


def shoot(page, name: str) -> None:
    if os.environ.get("SCREENSHOTS"):
        out = Path(os.environ.get("SCREENSHOT_DIR") or tempfile.gettempdir()) / "intake-shots"
        out.mkdir(exist_ok=True)
        page.screenshot(path=str(out / f"{name}.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_no_to_all_then_one_yes_with_its_date_and_a_rescreen_shows_the_change(
    log_in, live_server, aesthetician, default_protocols
):
    page = log_in(aesthetician)
    page.goto(f"{live_server.url}/clients/new/")
    page.get_by_label("First name").fill("Rosa")
    page.get_by_label("Last name").fill("Lopes")
    page.get_by_label("Date of birth").fill("1988-04-02")
    page.get_by_label("Fitzpatrick type").select_option("2")
    page.get_by_label("Oiliness").select_option("normal")
    page.get_by_label("Pore concern").select_option("mild")
    questions = list(ScreeningQuestion.objects.filter(active=True))
    dated = next(q for q in questions if q.asks_date)
    row = page.locator(f"tr[data-question='{dated.code}']")
    expect(row.locator(".screening-date")).to_be_hidden()  # no date asked before a yes

    page.get_by_role("button", name="No to all").click()
    expect(page.locator("#screening-summary")).to_contain_text("all answered · 0 yes")
    row.locator("input[value='yes']").check()
    expect(row.locator(".screening-date")).to_be_visible()
    shoot(page, "intake-1440")
    height = page.evaluate("document.getElementById('screening-table').getBoundingClientRect().height")
    assert height < 1500, height  # was about 3,400 px of stacked cards
    row.locator(".screening-date input").fill("2020-01-01")
    page.get_by_role("button", name="Save client").click()
    expect(page.get_by_role("heading", name="Rosa Lopes")).to_be_visible()

    rosa = Client.objects.get(last_name="Lopes")
    assert clients.current_answers(rosa)[dated.code][0] is True
    page.goto(f"{live_server.url}/clients/{rosa.pk}/edit/")
    row = page.locator(f"tr[data-question='{dated.code}']")
    expect(row.locator("input[value='yes']")).to_be_checked()  # the previous answers, pre-filled
    other = page.locator(f"tr[data-question='{next(q for q in questions if q != dated).code}']")
    other.locator("input[value='yes']").check()
    expect(other).to_have_class("screening-question is-yes is-changed")
    expect(other.locator("[data-was]")).to_be_visible()
    expect(page.locator("#screening-summary")).to_contain_text("1 changed since the last screen")
    for width in (768, 390):
        page.set_viewport_size({"width": width, "height": 900})
        shoot(page, f"rescreen-{width}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), width
