"""Issue 20's phone journey, end to end: web, worker and beat run as real processes, on the embedded
defaults (SQLite, filesystem broker, mail files) and on PostgreSQL + Redis + SMTP; staff book over
HTTP; the confirmation arrives (a mail file, or over SMTP); on a 390 px phone the client opens its
link, moves the appointment to an offered time, signs the consent with a finger on the canvas and
answers the pre-session check, each time coming back to the page by its own links. After each step
the page, a screenshot and the database are checked, and no page scrolls sideways."""

from __future__ import annotations

import datetime as dt
import io
import re
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from PIL import Image

from plans.consent_defaults import load_default_consents
from plans.models import ConsentKind, Message, MessageKind, PlanSession, PreSessionCheck, SignedConsent
from plans.outbox.timing import local_when
from plans.recheck import CHECK_QUESTIONS
from tests.helpers.outbox import text_body
from tests.notifications.conftest import (  # noqa: F401 - shared fixtures
    smtp_server,
    stack,
    staff,
)
from tests.notifications.stack import clinic_with_a_plan, mail_files, start_on_embedded_defaults, wait_for
from tests.notifications.test_consent_stack import ON_POSTGRES_AND_REDIS, _book
from tests.selfservice.test_stack import _with_subject

pytestmark = [pytest.mark.worker, pytest.mark.timeout(150), pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
SHOTS = Path("test-results")


@pytest.fixture
def phone(browser, request):
    """A phone's browser: 390 x 844, touch, the mobile viewport rules; a failure keeps a screenshot."""
    context = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=1, timezone_id="Europe/London"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def _fits_and_shows(page, name: str) -> None:
    """The page as the phone shows it: the clinic's public look (never the staff menu), nothing
    wider than the screen, and a screenshot with something on it (not one flat colour)."""
    assert page.locator("#public-header").is_visible() and not page.locator("#main-nav").count(), name
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name}: the page is {width} px wide on a {PHONE['width']} px phone"
    SHOTS.mkdir(exist_ok=True)
    png = page.screenshot(path=str(SHOTS / f"phone-journey-{name}.png"), full_page=True)
    image = Image.open(io.BytesIO(png)).convert("L")
    assert image.width == PHONE["width"], (name, image.size)
    dark = sum(image.point(lambda v: 255 if v < 128 else 0).histogram()[255:])
    assert dark > 500, f"{name}: the screenshot is blank ({dark} dark pixels)"
    assert len(image.getcolors(maxcolors=256 * 256) or []) > 16, f"{name}: the screenshot is one flat colour"


def _page_link(message) -> str:
    """The client-page link, as the plain text names it, and the same link behind the HTML's button."""
    link = re.search(r"Manage your appointments: (https?://\S+/e/page/\S+/)", text_body(message))[1]
    html = message.get_body(preferencelist=("html",)).get_content()
    assert f'href="{link}"' in html, "the HTML email's button does not carry the page link"
    return link


def _draw_signature(page) -> None:
    """A signature drawn with a finger: real touch events (Chromium's own, through the DevTools
    protocol; Playwright's touchscreen only taps), in small moves across the canvas.

    Each event carries the time a finger would have made it: a one-second stroke that ended a
    moment ago. Sent back to back instead, Chromium's gesture detector takes the stroke for a
    fling still under way and swallows the next tap (the Sign button) to stop it."""
    pad = page.locator("#signature-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    assert box["width"] <= PHONE["width"] and box["height"] > 40, box
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    points = [(x + w * (0.1 + 0.8 * i / 30), y + h * (0.5 + 0.3 * (-1) ** (i // 4) * (i % 4) / 4)) for i in range(31)]
    began = time.time() - 3
    cdp = page.context.new_cdp_session(page)
    for i, (px, py) in enumerate(points):
        event = {"type": "touchMove" if i else "touchStart", "touchPoints": [{"x": px, "y": py}]}
        cdp.send("Input.dispatchTouchEvent", {**event, "timestamp": began + 0.03 * i})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": [], "timestamp": began + 1.5})
    cdp.detach()


def _unsigned_plan_soon(user):
    load_default_consents()  # transactional tests flush the migration's forms
    # Four days ahead: inside the pre-session check's window, with free days either side to move to.
    plan, starts = clinic_with_a_plan(user, days_ahead=4)
    plan.client.consents.all().delete()  # a client who has not signed yet
    return plan, starts


def test_on_the_embedded_defaults_a_phone_moves_signs_and_answers_the_check_from_a_mail_file(stack, staff, phone):  # noqa: F811
    plan, starts = _unsigned_plan_soon(staff)
    s, procs = start_on_embedded_defaults(stack)
    _book(s, staff, plan, starts)
    _journey(phone, plan, starts, lambda: mail_files(s), procs)


@pytest.mark.skipif(
    not ON_POSTGRES_AND_REDIS, reason="needs DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://..."
)
def test_on_postgres_and_redis_a_phone_moves_signs_and_answers_the_check_from_a_delivered_email(
    stack,  # noqa: F811
    staff,  # noqa: F811
    phone,
    smtp_server,  # noqa: F811
):
    from clinic.celery import app

    app.control.purge()
    plan, starts = _unsigned_plan_soon(staff)
    s = stack(broker_url=settings.CELERY_BROKER_URL, email_url=f"smtp://127.0.0.1:{smtp_server.port}")
    procs = [s.start_web(server="gunicorn"), s.start_worker(), s.start_beat()]
    _book(s, staff, plan, starts)
    _journey(phone, plan, starts, lambda: smtp_server.received, procs)
    app.control.purge()


def _journey(phone, plan, starts, inbox, procs) -> None:
    """`inbox()`: every email delivered so far (the mail files, or what the SMTP server received)."""
    session = PlanSession.objects.get(plan=plan)
    booked_version = session.version

    # 1. The link from the delivered email opens the client's page.
    (message,) = wait_for(
        lambda: _with_subject(inbox(), "confirm"), timeout=45, what="the confirmation email", procs=procs
    )
    assert message["To"] == plan.client.email
    phone.goto(_page_link(message))
    assert phone.locator("h1").inner_text() == "Your appointments"
    card = phone.locator(f".client-session[data-session='{session.pk}']")
    assert local_when(starts) in card.inner_text()
    assert phone.locator("#consent-to-sign").is_visible()
    assert card.get_by_role("link", name="Answer the pre-session questions").is_visible()
    _fits_and_shows(phone, "1-page")

    # 2. Move the appointment to one of the offered times, a day or more from both the cut-off
    # and the edge of the check's window, so the check is still offered afterwards.
    card.get_by_role("link", name="Move this appointment").tap()
    phone.wait_for_selector("input[name=slot]")
    assert local_when(starts) in phone.locator("main").inner_text()
    _fits_and_shows(phone, "2-offers")
    now = timezone.now()
    offers = phone.locator("input[name=slot]").evaluate_all("els => els.map(e => [e.id, e.value])")
    slot_id, value = next(
        (
            (i, v)
            for i, v in offers
            if now + dt.timedelta(days=2) < dt.datetime.fromisoformat(v.split("|")[0]) < now + dt.timedelta(days=6)
        ),
        (None, None),
    )
    assert slot_id, f"no time offered two to six days ahead: {offers}"
    new_start = dt.datetime.fromisoformat(value.split("|")[0])
    phone.locator(f"label[for='{slot_id}']").tap()
    assert phone.locator(f"#{slot_id}").is_checked()
    phone.get_by_role("button", name="Move my appointment").tap()
    phone.wait_for_selector("text=Your appointment is moved")
    assert local_when(new_start) in phone.locator("#link-text").inner_text()
    _fits_and_shows(phone, "3-moved")
    session.refresh_from_db()
    assert session.starts_at == new_start and session.client_reschedules == 1
    # Through the booking service: the version bumped, the update email queued with it, the audit line.
    assert session.version == booked_version + 1
    assert Message.objects.filter(session=session, kind=f"{MessageKind.UPDATE_PREFIX}{session.version}").exists()
    assert session.history.first().history_change_reason == "Moved by the client on their page"
    # ... and the worker delivers it, with the new time.
    (update,) = wait_for(lambda: _with_subject(inbox(), "moved"), timeout=45, what="the update email", procs=procs)
    assert local_when(new_start) in text_body(update)
    phone.get_by_role("link", name="Back to your appointments").tap()
    phone.wait_for_selector(".client-session")
    assert local_when(new_start) in card.inner_text() and local_when(starts) not in card.inner_text()

    # 3. Sign the consent from the page: a blank box is refused, a drawn signature is stored.
    phone.get_by_role("link", name="Sign the consent").tap()
    phone.wait_for_selector("#signature-pad")
    _fits_and_shows(phone, "4-consent")
    phone.get_by_label("I have read this consent").tap()
    phone.get_by_role("button", name="Sign consent").tap()
    phone.wait_for_selector("#sign-error")
    assert "sign" in phone.locator("#sign-error").inner_text().lower()
    assert not SignedConsent.objects.filter(client=plan.client).exists()
    assert phone.get_by_label("I have read this consent").is_checked()  # kept from the refused submit
    _draw_signature(phone)
    phone.get_by_role("button", name="Sign consent").tap()
    phone.wait_for_selector("text=Your consent is signed")
    _fits_and_shows(phone, "5-signed")
    signed = SignedConsent.objects.get(client=plan.client, kind=ConsentKind.TREATMENT)
    assert signed.via == "remote" and signed.witness is None and len(signed.signature_png) > 1000

    # 4. Back on the page the consent is no longer asked for; answer the pre-session check.
    phone.get_by_role("link", name="Back to your appointments").tap()
    phone.wait_for_selector(".client-session")
    assert not phone.locator("#consent-to-sign").count()
    card.get_by_role("link", name="Answer the pre-session questions").tap()
    phone.wait_for_selector("#pre-session-check")
    assert local_when(new_start) in phone.locator("main").inner_text()
    _fits_and_shows(phone, "6-check")
    assert phone.locator("fieldset[data-question]").count() == len(CHECK_QUESTIONS)
    # Each answer is a thumb's worth: a mis-tapped "Yes" would hold the plan.
    heights = phone.locator("#pre-session-check .form-check-label").evaluate_all(
        "labels => labels.map(l => l.getBoundingClientRect().height)"
    )
    assert heights and min(heights) >= 44, heights
    for question in CHECK_QUESTIONS:
        phone.locator(f"label[for='id_{question.code}_0']").tap()  # "No", the first choice
    phone.get_by_role("button", name="Save answers").tap()
    phone.wait_for_selector("text=We have your answers")
    _fits_and_shows(phone, "7-answered")
    check = PreSessionCheck.objects.get(session=session)
    assert check.recorded_by is None and check.via == "client"
    assert check.answers == {q.code: {"yes": False, "detail": ""} for q in CHECK_QUESTIONS}
    phone.get_by_role("link", name="Back to your appointments").tap()
    phone.wait_for_selector(".client-session")
    assert not card.get_by_role("link", name="Answer the pre-session questions").count()
    _fits_and_shows(phone, "8-done")
