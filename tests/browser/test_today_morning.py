"""A morning at the tablet (768 px): open Today, check the first client in (her pre-session check
comes next), start and record her session, cancel the next and rebook it from the offered slots,
find a client from the navbar. SCREENSHOTS=1 keeps screenshots of each
step (and of Today at 1440, 768 and 390 px) in a temporary directory, printed at the end."""

import datetime as dt
import os
import tempfile
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from plans import models
from plans.services import booking
from tests.helpers.plans import plan_to_book
from tests.helpers.records import kit

WIDTHS = (1440, 768, 390)


class Shots:
    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="today-shots-")) if os.environ.get("SCREENSHOTS") else None

    def take(self, page, name: str) -> None:
        if self.dir:
            page.screenshot(path=str(self.dir / f"{name}.png"), full_page=True)


# Elements reaching past the right edge, named for the failure message.
WIDE = """[...document.querySelectorAll('*')]
  .filter(e => e.getBoundingClientRect().right > innerWidth + 0.5)
  .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))
  .slice(0, 8)"""


def no_sideways_scroll(page) -> None:
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert fits, (page.url, page.evaluate(WIDE))


def weekday_on_or_after(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


@pytest.fixture
def morning(clinic):
    """Ines's session 1 began half an hour ago with Ana (set directly: booking refuses the past);
    her session 2 is booked four weeks on. Another client, Bruno, is in the list too."""
    now = timezone.now()
    today = timezone.localdate(now)
    began = max(now - dt.timedelta(minutes=30), now.replace(hour=0, minute=0, second=1, microsecond=0))
    plan = plan_to_book(first_target=today, count=3, spread=10)
    plan.client.first_name, plan.client.last_name = "Ines", "Carvalho"
    plan.client.save()
    other = plan_to_book(first_target=today + dt.timedelta(days=3)).client
    other.first_name, other.last_name = "Bruno", "Lima"
    other.save()
    s1, s2, _ = plan.sessions.order_by("sequence")
    models.PlanSession.objects.filter(pk=s1.pk).update(
        status=models.SessionStatus.BOOKED,
        starts_at=began,
        ends_at=began + dt.timedelta(minutes=60),
        blocked_until=began + dt.timedelta(minutes=75),
        practitioner=clinic["ana"],
        room=clinic["room_a"],
    )
    booking.session_book(
        session=s2,
        starts_at=booking.scheduling.local_instant(weekday_on_or_after(s2.target), dt.time(10), booking.clinic_tz()),
        practitioner=clinic["ana"],
    )
    return plan


@pytest.mark.django_db(transaction=True)
def test_a_morning_on_the_tablet(browser, live_server, aesthetician, morning):
    plan = morning
    s1, s2, _ = plan.sessions.order_by("sequence")
    shots = Shots()
    context = browser.new_context(viewport={"width": 768, "height": 1024}, timezone_id="Europe/London", has_touch=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(aesthetician.username)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")

    # Today: Ana's column holds Ines's session 1, with what is still open about her plan.
    appt = page.locator(f'.today-appt[data-session="{s1.pk}"]')
    expect(appt).to_contain_text("Ines Carvalho")
    expect(appt).to_contain_text("Microneedling session 1 of 3")
    expect(appt.locator('[data-outstanding="unbooked"]')).to_contain_text("1 session to book")
    shots.take(page, "1-today")
    no_sideways_scroll(page)

    # She arrives: one tap checks her in, and with no current pre-session check its form comes next.
    appt.get_by_role("button", name="Check in").click()
    page.wait_for_url(f"**/sessions/{s1.pk}/check/**")
    expect(page.get_by_role("alert").filter(has_text="Checked in")).to_be_visible()
    shots.take(page, "2-checked-in-pre-session-check")
    no_sideways_scroll(page)
    for question in page.locator("#pre-session-check fieldset").all():
        question.get_by_label("No", exact=True).check()
    page.get_by_role("button", name="Save answers").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(appt.locator("[data-status]")).to_have_text("Checked in")
    expect(appt.locator('[data-outstanding="check"]')).to_have_count(0)
    expect(appt.get_by_role("button", name="Check in")).to_have_count(0)
    shots.take(page, "3-checked-in")

    # Treatment begins: one tap.
    appt.get_by_role("button", name="Start").click()
    expect(page.get_by_role("alert").filter(has_text="in treatment")).to_be_visible()
    expect(appt.locator("[data-status]")).to_have_text("In treatment")
    s1.refresh_from_db()
    assert s1.checked_in_at and s1.started_at and s1.started_by == aesthetician
    shots.take(page, "4-in-treatment")

    # Record it: the treatment record, one tap from Today; signing it off completes the session.
    device, cartridge = kit()
    appt.get_by_role("link", name="Treatment record").click()
    page.locator("select[name=device]").select_option(str(device.pk))
    page.get_by_label("Needle cartridge lot").select_option(str(cartridge.pk))
    page.locator("input[name=zone_0]").fill("0.5")
    page.get_by_label("Passes").fill("3")
    page.get_by_label("Clinical endpoint reached").select_option("erythema")
    shots.take(page, "4b-treatment-record")
    page.get_by_role("button", name="Sign off and complete").click()
    expect(page.get_by_role("alert").filter(has_text="Completed")).to_be_visible()
    page.goto(f"{live_server.url}/")
    expect(page.locator(f'.today-appt[data-session="{s1.pk}"] [data-status]')).to_have_text("Completed")
    s1.refresh_from_db()
    assert s1.status == models.SessionStatus.COMPLETED
    shots.take(page, "5-completed")

    # The client calls: session 2 is cancelled from its panel...
    page.goto(f"{live_server.url}/sessions/{s2.pk}/")
    page.get_by_label("Cancellation reason").fill("Client away that week")
    page.get_by_role("button", name="Cancel appointment").click()
    expect(page.get_by_role("alert").filter(has_text="Cancelled")).to_be_visible()
    # ...and the panel offers the nearest free times at once.
    expect(page.locator("[data-offer]").first).to_be_visible()
    shots.take(page, "6-cancelled-panel")

    # Today's worklist holds it until it is rebooked, with the same offers one tap away.
    page.goto(f"{live_server.url}/")
    item = page.locator(f'.work-item[data-item="rebook"][data-session="{s2.pk}"]')
    expect(item).to_contain_text("Ines Carvalho")
    item.get_by_role("button", name="Rebook").click()
    offer = item.locator("[data-offer]").first
    expect(offer).to_contain_text("Ana Silva (as before)")
    shots.take(page, "7-rebook-offers")
    offer.click()
    expect(page.get_by_role("alert").filter(has_text="Booked")).to_be_visible()
    expect(page.locator(f'.work-item[data-session="{s2.pk}"]')).to_have_count(0)
    s2.refresh_from_db()
    assert s2.status == models.SessionStatus.BOOKED and s2.practitioner_id == aesthetician.practitioner.pk
    assert s2.earliest <= s2.local_date() <= s2.latest
    shots.take(page, "8-rebooked")

    # Find a client from the navbar: the box stays out of the collapsed menu at this width.
    page.get_by_label("Find a client").fill("carv")
    result = page.locator("#quick-results a").filter(has_text="Carvalho, Ines")
    expect(result).to_be_visible()
    assert "carv" not in page.url
    shots.take(page, "9-search")
    no_sideways_scroll(page)
    result.click()
    page.wait_for_url(f"{live_server.url}/clients/{plan.client_id}/")

    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/")
        shots.take(page, f"today-{width}")
        no_sideways_scroll(page)
        page.goto(f"{live_server.url}/sessions/{s2.pk}/")
        shots.take(page, f"session-{width}")
        no_sideways_scroll(page)
    context.close()
    if shots.dir:
        print(f"\nScreenshots in {shots.dir}")
