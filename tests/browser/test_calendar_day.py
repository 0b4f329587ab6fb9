"""The calendar for a working day: my day, a practitioner filter, a list on phones, keys."""

import datetime as dt
import os
import tempfile
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from plans.models import PlanSession, SessionStatus
from plans.services import booking
from tests.helpers.plans import plan_to_book


def next_weekday() -> dt.date:
    day = timezone.localdate() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def shoot(page, name):
    if os.environ.get("SCREENSHOTS"):
        out = Path(tempfile.gettempdir()) / "calendar-shots"
        out.mkdir(exist_ok=True)
        page.screenshot(path=str(out / f"{name}.png"), full_page=True)


@pytest.mark.django_db(transaction=True)
def test_my_day_a_filter_a_phone_list_and_keys(log_in, live_server, aesthetician, clinic):
    day = next_weekday()
    mine = plan_to_book(first_target=day)
    bens = plan_to_book(first_target=day)
    at = lambda hour: dt.datetime.combine(day, dt.time(hour), tzinfo=booking.clinic_tz())  # noqa: E731
    booking.session_book(session=mine.sessions.get(sequence=1), starts_at=at(10), practitioner=clinic["ana"])
    booking.session_book(session=bens.sessions.get(sequence=1), starts_at=at(11), practitioner=clinic["ben"])
    page = log_in(aesthetician)
    page.goto(f"{live_server.url}/calendar/?date={day}")
    expect(page.locator(".ec-event").filter(has_text=mine.client.full_name)).to_be_visible()
    expect(page.locator(".ec-event").filter(has_text=bens.client.full_name)).to_be_visible()
    expect(page.locator(".ec-event.status-booked")).to_have_count(2)
    shoot(page, "week-1440")

    # Keys: d for the day, w for the week again, l for a list.
    page.locator("body").press("d")
    expect(page.locator(".ec-resource-time-grid-day, .ec-day-view, .ec-timeGrid").first).to_be_visible()
    page.locator("body").press("l")
    expect(page.locator(".ec-list")).to_be_visible()
    page.locator("body").press("w")
    expect(page.locator(".ec-list")).to_have_count(0)

    # A missed appointment opened from the calendar offers its rebooking slots in the dialog.
    missed = bens.sessions.get(sequence=1)
    PlanSession.objects.filter(pk=missed.pk).update(status=SessionStatus.NO_SHOW)
    page.reload()
    page.locator(".ec-event").filter(has_text=bens.client.full_name).click()
    dialog = page.locator("#session-dialog")
    offer = dialog.locator("[data-offer]").first
    expect(offer).to_contain_text("Ben Okafor (as before)")
    offer.click()
    expect(page.locator("#calendar-alert")).to_contain_text("Booked")
    missed.refresh_from_db()
    assert missed.status == SessionStatus.BOOKED and missed.practitioner_id == clinic["ben"].pk

    # Only one practitioner's column: the filter keeps Ana's appointments, not Ben's.
    page.get_by_label("Whose calendar").select_option(label="Ana Silva")
    page.get_by_role("button", name="Show").click()
    expect(page.locator(".ec-event").filter(has_text=mine.client.full_name)).to_be_visible()
    expect(page.locator(".ec-event").filter(has_text=bens.client.full_name)).to_have_count(0)

    # A phone opens on a list of the day.
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{live_server.url}/calendar/?date={day}")
    expect(page.locator(".ec-list")).to_be_visible()
    expect(page.locator(".ec-list .ec-event").filter(has_text=mine.client.full_name)).to_be_visible()
    shoot(page, "list-390")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 768, "height": 1000})
    page.goto(f"{live_server.url}/calendar/?date={day}")
    shoot(page, "week-768")
