"""The outcomes report in Chromium: its charts are drawn (the canvas is not blank) beside their
numbers, and the page fits 1440, 768 and 390 px without scrolling sideways."""

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.factories import ProtocolFactory
from tests.helpers.outcomes import outcome_plan

pytestmark = pytest.mark.django_db(transaction=True)

CHARTS = ("chart-pore-change", "chart-gais", "chart-pih")


def coloured_pixels(png: bytes) -> int:
    """Pixels that differ from the image's top-left corner (the page's background)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    background = image.getpixel((0, 0))
    return sum(count for count, colour in image.getcolors(image.width * image.height) if colour != background)


def test_the_report_draws_its_charts_beside_their_numbers_at_every_width(log_in, page, live_server, clinic_admin):
    light, dark = ProtocolFactory(name="Pores, light skin"), ProtocolFactory(name="Pores, dark skin")
    for i in range(6):
        outcome_plan(protocol=light, scores=(3, 1 + i % 2), gais=1 + i % 3, satisfaction=8)
        outcome_plan(protocol=dark, fitzpatrick=5, scores=(3, 2), gais=2, adverse=("pih",) if i < 2 else ())
    log_in(clinic_admin)
    out = Path("test-results")
    out.mkdir(exist_ok=True)
    for width in (1440, 768, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/reports/outcomes/")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0, f"too wide at {width}"
        for chart in CHARTS:
            canvas = page.locator(f"#{chart}")
            # Chart.js sizes the canvas to its box once drawn: a zero-width canvas was never drawn.
            page.wait_for_function(f"document.getElementById('{chart}').width > 0")
            png = canvas.screenshot()
            assert coloured_pixels(png) > 500, f"{chart} is blank at {width} px"
            assert page.locator(f"#{chart}-numbers").is_visible()
        page.screenshot(path=str(out / f"outcomes-report-{width}.png"), full_page=True)
    numbers = page.locator("#chart-pih-numbers").inner_text()
    assert "Pores, dark skin" in numbers and "33% (2 of 6)" in numbers
