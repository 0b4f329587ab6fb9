"""What the calendar shows and offers comes from the model: allowed actions, labels, closed time,
links by role, and error codes the script decides by."""

import datetime as dt
from pathlib import Path

import pytest
from django.urls import reverse

from plans import models
from plans.services import booking
from tests.helpers.clock import LONDON, at
from tests.helpers.plans import plan_to_book

pytestmark = pytest.mark.usefixtures("frozen_clock")

MON = dt.date(2027, 3, 1)
WEEK = {"start": "2027-03-01", "end": "2027-03-08"}


@pytest.fixture
def booked(clinic):
    plan = plan_to_book(first_target=MON, count=3)
    session = plan.sessions.get(sequence=1)
    return booking.session_book(session=session, starts_at=at(MON, 10), practitioner=clinic["ana"])


def test_a_booked_session_offers_move_and_cancel_until_it_starts_then_complete_and_no_show(booked):
    assert booked.available_actions(now=at(MON, 9)) == ["check_in", "reschedule", "cancel"]
    assert booked.available_actions(now=at(MON, 10, 5)) == ["check_in", "reschedule", "cancel", "no_show", "complete"]
    assert booked.available_actions(now=at(MON, 9) - dt.timedelta(days=1)) == ["reschedule", "cancel"]
    assert booked.refusal("book") == f"{booked.title} is already booked; move it instead."


def test_a_cancelled_session_can_only_be_booked_again_and_not_once_the_plan_is_over(booked):
    booked = booking.session_cancel(session=booked, by_client=True, reason="ill")
    assert booked.available_actions() == ["book"]
    booked.plan.status = models.PlanStatus.CANCELLED
    assert booked.available_actions() == []
    assert "cannot be booked" in booked.refusal("book")


def test_week_events_name_the_client_in_full_and_the_visit_as_session_k_of_n(staff, booked):
    (event,) = staff.get(reverse("calendar-events"), WEEK).json()
    client = booked.plan.client
    assert event["title"] == f"{client.first_name} {client.last_name} · Microneedling session 1 of 3"
    assert event["extendedProps"]["client"] == client.full_name
    assert event["extendedProps"]["actions"] == ["reschedule", "cancel"]
    assert event["editable"] is True


def test_closed_time_is_shaded_hours_not_worked_time_off_and_clinic_closures(staff, clinic):
    models.TimeOff.objects.create(
        practitioner=clinic["ana"], starts_at=at(MON, 12), ends_at=at(MON, 14), reason="dentist"
    )
    models.TimeOff.objects.create(
        starts_at=at(MON + dt.timedelta(days=2), 0), ends_at=at(MON + dt.timedelta(days=3), 0)
    )
    events = staff.get(reverse("calendar-closed"), {"start": "2027-03-01", "end": "2027-03-02"}).json()
    assert all(e["display"] == "background" for e in events)
    ana = [(e["start"], e["end"], e["title"]) for e in events if e["resourceIds"] == [clinic["ana"].id]]
    assert ("2027-03-01T00:00:00", "2027-03-01T09:00:00", "Not working") in ana
    assert ("2027-03-01T17:00:00", "2027-03-02T00:00:00", "Not working") in ana
    assert ("2027-03-01T12:00:00", "2027-03-01T14:00:00", "Time off") in ana
    kinds = {e["classNames"][1] for e in events if e["resourceIds"] == [clinic["ana"].id]}
    assert kinds == {"closed-hours", "closed-time_off"}
    week = staff.get(reverse("calendar-closed"), WEEK).json()
    closed = [e for e in week if e["title"] == "Clinic closed"]
    assert closed and set(closed[0]["resourceIds"]) == {clinic["ana"].id, clinic["ben"].id}
    # Saturday and Sunday: not worked all day.
    sat = dt.datetime.combine(MON + dt.timedelta(days=5), dt.time(), tzinfo=LONDON)
    assert any(e["start"] == sat.strftime("%Y-%m-%dT%H:%M:%S") and e["title"] == "Not working" for e in week)


def test_the_appointment_dialog_links_the_client_for_front_desk_and_the_plan_only_for_clinicians(
    client, aesthetician, front_desk, booked
):
    url = reverse("session-panel", args=[booked.pk]) + "?fragment=1"
    client.force_login(front_desk)
    page = client.get(url).content.decode()
    assert f'href="/clients/{booked.plan.client_id}/"' in page
    assert "data-plan-link" not in page
    client.force_login(aesthetician)
    page = client.get(url).content.decode()
    assert f'href="/plans/{booked.plan_id}/"' in page and "Microneedling session 1 of 3" in page


def test_a_move_outside_the_window_answers_a_needs_override_code(staff, booked, clinic):
    response = staff.post(
        reverse("session-reschedule", args=[booked.pk]),
        {"starts_at": "2027-03-26T10:00", "practitioner": clinic["ana"].pk},
        HTTP_ACCEPT="application/json",
    )
    body = response.json()
    assert response.status_code == 400 and body["code"] == "needs_override", body
    assert body["error"] == body["message"]


def test_a_taken_slot_answers_409_with_the_slot_taken_code(staff, booked, clinic):
    other = plan_to_book(first_target=MON, count=1).sessions.get()
    response = staff.post(
        reverse("session-book", args=[other.pk]),
        {"starts_at": "2027-03-01T10:30", "practitioner": clinic["ana"].pk},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 409 and response.json()["code"] == "slot_taken"


def test_the_calendar_script_decides_by_code_and_never_asks_with_browser_prompts():
    script = (Path(__file__).resolve().parents[2] / "static" / "js" / "calendar.js").read_text()
    assert "reason to override" not in script.lower()
    assert "window.prompt" not in script and "window.confirm" not in script
    assert 'code === "needs_override"' in script and 'code === "cascade_required"' in script
