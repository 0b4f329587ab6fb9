"""In a real browser, front desk's plan and client pages (with the emails htmx loads) hold no clinical text."""

import os
from pathlib import Path

import pytest

from tests.helpers import world as world_data
from tests.helpers.world import CLINICAL_TEXT, DEPTH

pytestmark = pytest.mark.django_db(transaction=True)

# SCREENSHOTS=1 keeps a picture of each page at three widths in test-results/, to look at.
WIDTHS = (1440, 768, 390) if os.environ.get("SCREENSHOTS") else ()


def _visible_text(page) -> str:
    page.wait_for_load_state("networkidle")
    return page.locator("body").inner_text() + " " + page.title()


@pytest.mark.parametrize("who", ["front_desk", "aesthetician"])
def test_front_desk_reads_no_clinical_text_on_the_plan_and_client_pages(
    log_in,
    page,
    live_server,
    world,  # noqa: F811
    completed_plan,  # noqa: F811
    request,
    who,
):
    log_in(request.getfixturevalue(who))
    completed = completed_plan
    texts = {}
    for name, path in (("plan", f"/plans/{completed.pk}/"), ("client", f"/clients/{world.client.pk}/")):
        page.goto(f"{live_server.url}{path}")
        if name == "client":
            page.locator("#message-timeline").wait_for()  # the emails, loaded by htmx
        texts[name] = _visible_text(page)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            Path("test-results").mkdir(exist_ok=True)
            page.screenshot(path=f"test-results/{who}-{name}-{width}.png", full_page=True)
    seen = " ".join(texts.values())
    found = [what for what, needle in CLINICAL_TEXT.items() if needle.lower() in seen.lower()]
    if who == "front_desk":
        assert not found and not DEPTH.search(seen), found
        assert "Microneedling session 1 of 2" in texts["plan"] and world.client.phone in texts["client"]
    else:
        assert world_data.COLD_SORES in texts["plan"] and DEPTH.search(texts["plan"])
