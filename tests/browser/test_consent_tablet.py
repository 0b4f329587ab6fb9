"""The consent journey on a 768 px tablet: the client draws a signature on the canvas with real pointer
moves, the aesthetician witnesses it, and the downloaded PDF shows that signature (rendered to pixels)."""

from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest

from plans.consent_defaults import load_default_consents
from plans.models import SignedConsent
from tests.factories import ClientFactory

SHOTS = Path("test-results")


@pytest.fixture
def zoe(db):
    load_default_consents()  # the live server's database is flushed of migration rows
    return ClientFactory(first_name="Zoe", last_name="Quinn", treatment_consent=False)


def _draw_signature(page) -> None:
    page.locator("#signature-pad").scroll_into_view_if_needed()
    box = page.locator("#signature-pad").bounding_box()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + w * 0.1, y + h * 0.7)
    page.mouse.down()
    for i in range(1, 41):  # a wave across the box, in small steps as a finger moves
        page.mouse.move(x + w * (0.1 + 0.8 * i / 40), y + h * (0.5 + 0.3 * (-1) ** (i // 5) * (i % 5) / 5))
    page.mouse.up()
    page.mouse.move(x + w * 0.3, y + h * 0.3)
    page.mouse.down()
    page.mouse.move(x + w * 0.35, y + h * 0.8, steps=12)
    page.mouse.up()


def _signature_ink(pdf_bytes: bytes) -> tuple[int, int]:
    """(dark pixels inside the PDF's signature image as rendered, pages): the image found by its
    position on the page, the page rendered to a bitmap like a viewer would."""
    pdf = pdfium.PdfDocument(pdf_bytes)
    scale = 2
    for index in range(len(pdf)):
        page = pdf[index]
        images = list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))
        if not images:
            continue
        left, bottom, right, top = images[0].get_bounds()
        rendered = page.render(scale=scale).to_pil().convert("L")
        rendered.save(SHOTS / "consent-pdf-page.png")
        height = page.get_height()
        crop = rendered.crop(
            (int(left * scale), int((height - top) * scale), int(right * scale), int((height - bottom) * scale))
        )
        crop.save(SHOTS / "consent-pdf-signature.png")
        return sum(crop.point(lambda v: 255 if v < 100 else 0).histogram()[255:]), len(pdf)
    return 0, len(pdf)


def test_a_client_signs_on_a_tablet_and_the_pdf_shows_the_signature(log_in, live_server, aesthetician, zoe):
    SHOTS.mkdir(exist_ok=True)
    page = log_in(aesthetician)
    page.set_viewport_size({"width": 768, "height": 1024})
    page.goto(f"{live_server.url}/clients/{zoe.pk}/")
    page.locator(".consent-treatment").get_by_role("link", name="sign now on this tablet").click()
    page.wait_for_selector("#signature-pad")
    page.screenshot(path=str(SHOTS / "consent-sign-768.png"), full_page=True)

    # Submitting a blank box is refused and nothing is stored.
    page.get_by_label("I have read this consent").check()
    page.get_by_role("button", name="Sign consent").click()
    page.wait_for_selector("#sign-error")
    assert "sign" in page.locator("#sign-error").inner_text().lower()
    assert not SignedConsent.objects.filter(client=zoe).exists()

    page.get_by_label("I have read this consent").check()
    _draw_signature(page)
    page.get_by_role("button", name="Sign consent").click()
    page.wait_for_url(f"{live_server.url}/clients/{zoe.pk}/")
    assert "Treatment consent on file" in page.locator("#consent-status").inner_text()
    signed = SignedConsent.objects.get(client=zoe)
    assert signed.witness == aesthetician and signed.via == "clinic"

    page.locator(".consent-treatment").get_by_role("link", name="view").click()
    page.wait_for_selector("#consent-signature")
    assert page.locator("#consent-hash").inner_text() == signed.text_sha256
    with page.expect_download() as download:
        page.locator("#consent-pdf").click()
    pdf_bytes = Path(download.value.path()).read_bytes()
    assert pdf_bytes.startswith(b"%PDF-")
    ink, pages = _signature_ink(pdf_bytes)
    assert pages >= 1
    assert ink > 200, f"the signature area of the PDF is blank ({ink} dark pixels)"
