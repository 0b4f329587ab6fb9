"""An aesthetician books a whole plan, moves and cancels sessions on the calendar, and cannot double-book."""

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from plans import models
from tests.helpers.plans import plan_to_book


def next_monday(weeks_ahead: int) -> dt.date:
    today = timezone.localdate()
    return today + dt.timedelta(days=7 * weeks_ahead - today.weekday())


@pytest.fixture
def accepted_plan(clinic):
    return plan_to_book(first_target=next_monday(3), spread=10)


def event(page, client_name, title):
    # The client's full name, then the visit's label ("Microneedling session 2 of 4").
    return page.locator(".ec-event").filter(has_text=client_name).filter(has_text=title)


@pytest.mark.django_db(transaction=True)
def test_book_a_whole_plan_move_one_with_cascade_cancel_one_and_see_conflicts(
    log_in,
    live_server,
    aesthetician,
    accepted_plan,
):
    page = log_in(aesthetician)
    plan, client = accepted_plan, accepted_plan.client.full_name
    monday = next_monday(3)

    # From the plan page: auto-fit and Book all.
    page.goto(f"{live_server.url}/plans/{plan.pk}/")
    page.get_by_role("link", name="Book sessions").click()
    page.get_by_label("Practitioner").select_option(label="Ana Silva")
    page.get_by_role("button", name="Find slots (auto-fit)").click()
    expect(page.locator("#proposal tbody tr")).to_have_count(3)
    page.get_by_role("button", name="Book all").click()
    expect(page.get_by_text("Booked 3 session(s)")).to_be_visible()

    # The first session is on the week calendar, in Ana's column, on its target day at 09:00.
    first = event(page, client, "Microneedling session 1 of 3")
    expect(first).to_be_visible()
    expect(first.locator(".appt-client")).to_have_attribute("title", re.compile(r"^09:00"))  # the time is the tooltip
    s1, s2, s3 = plan.sessions.order_by("sequence")
    assert s1.local_date() == monday

    # Drag session 1 to the next day (same practitioner): no later session has to move.
    box = first.bounding_box()
    tuesday_ana = page.locator(".ec-body .ec-day.ec-tue").first.bounding_box()  # Ana's column comes first
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 5)
    page.mouse.down()
    target_x = tuesday_ana["x"] + tuesday_ana["width"] / 2
    page.mouse.move((box["x"] + target_x) / 2, box["y"] + 5, steps=5)
    page.mouse.move(target_x, box["y"] + 5, steps=5)
    page.mouse.up()
    # Nothing moves (and no email goes) until the move is confirmed in a dialog.
    confirm = page.locator("#move-confirm-dialog")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text(f"{client}, Microneedling session 1 of 3")
    s1.refresh_from_db()
    assert s1.local_date() == monday and s1.version == 0
    confirm.get_by_role("button", name="Move and email the client").click()
    expect(page.locator("#calendar-alert")).to_contain_text("Moved Microneedling 1 of 3")
    s1.refresh_from_db()
    assert s1.local_date() == monday + dt.timedelta(days=1)
    assert timezone.localtime(s1.starts_at).time() == dt.time(9)
    assert s1.practitioner == aesthetician.practitioner and s1.version == 1
    # Undo puts it back through the same reschedule.
    toast = page.locator("#move-toast")
    expect(toast).to_be_visible()
    toast.get_by_role("button", name="Undo").click()
    expect(page.locator("#calendar-alert")).to_contain_text(f"Moved Microneedling 1 of 3 to {monday:%a %d %b} 09:00")
    s1.refresh_from_db()
    assert s1.local_date() == monday and s1.version == 2
    # Time Ana does not work is shaded, and the appointment dialog links to the client and the plan.
    expect(page.locator(".ec-bg-event.closed").first).to_be_attached()
    event(page, client, "Microneedling session 1 of 3").click()
    panel = page.locator("#session-dialog")
    expect(panel.get_by_role("link", name=client)).to_have_attribute("href", f"/clients/{plan.client_id}/")
    expect(panel.get_by_role("link", name="View plan")).to_have_attribute("href", f"/plans/{plan.pk}/")
    panel.get_by_role("button", name="Close").click()

    # Move session 2 ten days later with the move dialog: session 3 must follow; confirm.
    page.goto(f"{live_server.url}/calendar/?date={(monday + dt.timedelta(days=28)).isoformat()}")
    event(page, client, "Microneedling session 2 of 3").click()
    dialog = page.locator("#session-dialog")
    expect(dialog).to_be_visible()
    new_start = dt.datetime.combine(monday + dt.timedelta(days=38), dt.time(11))
    dialog.get_by_label("Starts at").fill(new_start.strftime("%Y-%m-%dT%H:%M"))
    dialog.get_by_role("button", name="Move").click()
    cascade = page.locator("#cascade-dialog")
    expect(cascade).to_be_visible()
    expect(cascade.locator("#cascade-rows tr")).to_have_count(1)
    expect(cascade).to_contain_text("Microneedling 3 of 3")
    cascade.get_by_role("button", name="Confirm the moves").click()
    expect(page.locator("#calendar-alert")).to_contain_text("Also moved 1 later session(s)")
    s2.refresh_from_db()
    s3.refresh_from_db()
    assert timezone.localtime(s2.starts_at) == timezone.make_aware(new_start)
    assert (s3.local_date() - s2.local_date()).days == 21

    # Cancel session 3.
    page.goto(f"{live_server.url}/calendar/?date={s3.local_date().isoformat()}")
    event(page, client, "Microneedling session 3 of 3").click()
    dialog.get_by_label("Cancellation reason").fill("Client moving abroad")
    dialog.get_by_role("button", name="Cancel appointment").click()
    expect(page.locator("#calendar-alert")).to_contain_text("Cancelled Microneedling 3 of 3")
    expect(event(page, client, "Microneedling session 3 of 3")).to_have_count(0)
    s3.refresh_from_db()
    assert s3.status == models.SessionStatus.CANCELLED and s3.cancel_reason == "Client moving abroad"

    # Booking another client into Ana's cleanup time right after session 1 shows the conflict.
    other = plan_to_book(first_target=monday, count=1)
    page.goto(f"{live_server.url}/calendar/?date={monday.isoformat()}")
    first = event(page, client, "Microneedling session 1 of 3")
    box = first.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] + 4)  # 10:00, during the cleanup buffer
    book = page.locator("#book-dialog")
    expect(book).to_be_visible()
    expect(book.locator("#book-when")).to_contain_text("10:00")
    book.get_by_label("Client plan and session").select_option(label=lambda_label(other))
    book.get_by_role("button", name="Book").click()
    expect(book.locator("#book-error")).to_contain_text("Slot taken: Ana Silva is already booked")
    assert other.sessions.get().status == models.SessionStatus.PROPOSED


def lambda_label(plan):
    s = plan.sessions.get()
    return f"{plan.client.full_name} — {s.title} (window {s.earliest:%d %b}–{s.latest:%d %b})"
