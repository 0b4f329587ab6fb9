"""Calendar pages and endpoints: JSON events, day list, actions, plan booking, feeds."""

import datetime as dt
import json

import icalendar
import pytest
from django.urls import reverse

from plans import models
from plans.services import booking
from tests.helpers.clock import at
from tests.helpers.plans import plan_to_book
from tests.helpers.records import record_post
from tests.helpers.safety import record_check

pytestmark = pytest.mark.usefixtures("frozen_clock")

MON = dt.date(2027, 3, 1)


def book_plans(clinic, n):
    """n one-session plans booked on MON at consecutive slots alternating Ana and Ben."""
    sessions = []
    for i in range(n):
        plan = plan_to_book(first_target=MON, count=1)
        who = clinic["ana"] if i % 2 == 0 else clinic["ben"]
        start = at(MON, 9) + dt.timedelta(minutes=75 * (i // 2))
        sessions.append(booking.session_book(session=plan.sessions.get(), starts_at=start, practitioner=who))
    return sessions


@pytest.mark.parametrize("count", [1, 8])
def test_calendar_events_run_a_constant_number_of_queries(staff, clinic, django_assert_max_num_queries, count):
    book_plans(clinic, count)
    # session + user + its two permission lookups + appointments + their plans (for "session k of n")
    with django_assert_max_num_queries(6):
        response = staff.get(reverse("calendar-events"), {"start": "2027-03-01", "end": "2027-03-08"})
    events = response.json()
    assert len(events) == count
    first = events[0]
    assert first["start"] == "2027-03-01T09:00:00" and first["end"] == "2027-03-01T10:00:00"
    assert first["resourceIds"] == [clinic["ana"].id]
    assert "status-booked" in first["classNames"]


def test_room_view_puts_events_in_room_columns(staff, clinic):
    (s,) = book_plans(clinic, 1)
    events = staff.get(reverse("calendar-events"), {"start": "2027-03-01", "end": "2027-03-02", "mode": "rooms"}).json()
    assert events[0]["resourceIds"] == [s.room_id]


def test_calendar_events_narrow_to_one_practitioner(staff, clinic):
    book_plans(clinic, 4)
    week = {"start": "2027-03-01", "end": "2027-03-08"}
    events = staff.get(reverse("calendar-events"), {**week, "practitioner": clinic["ben"].id}).json()
    assert len(events) == 2
    assert {e["extendedProps"]["practitionerId"] for e in events} == {clinic["ben"].id}


@pytest.mark.parametrize("count", [1, 8])
def test_day_list_runs_a_constant_number_of_queries(staff, clinic, django_assert_max_num_queries, count):
    book_plans(clinic, count)
    with django_assert_max_num_queries(5):  # session + user + its two permission lookups + appointments
        response = staff.get(reverse("day-list"), {"date": "2027-03-01"})
    assert response.content.decode().count('<tr class="status-booked">') == count


def test_calendar_page_renders_resources_and_nav(staff, clinic):
    page = staff.get(reverse("calendar"), {"date": "2027-03-01"}).content.decode()
    assert "Ana Silva" in page and 'id="calendar-config"' in page
    assert 'href="/calendar/day/"' in page  # the Day list nav item
    assert "event-calendar.min.js" in page and "cdn" not in page.lower()


def test_booking_an_occupied_slot_answers_409_with_the_conflict(staff, clinic):
    (s,) = book_plans(clinic, 1)
    other = plan_to_book(first_target=MON, count=1).sessions.get()
    response = staff.post(
        reverse("session-book", args=[other.pk]),
        {"starts_at": "2027-03-01T09:30", "practitioner": clinic["ana"].pk},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 409
    assert "Slot taken: Ana Silva is already booked" in response.json()["message"]


def test_reschedule_endpoint_returns_the_cascade_then_applies_it_on_confirmation(staff, clinic):
    plan = plan_to_book(first_target=MON, spread=10)
    proposal = booking.series_propose(plan=plan, preferences=booking.scheduling.Preferences(clinic["ana"].id))
    booking.series_book(plan=plan, proposal=proposal.result.bookings)
    s1, s2, s3 = plan.sessions.order_by("sequence")
    url = reverse("session-reschedule", args=[s2.pk])
    data = {"starts_at": "2027-04-07T11:00", "practitioner": clinic["ana"].pk}
    first = staff.post(url, data, HTTP_ACCEPT="application/json")
    assert first.status_code == 409
    (shift,) = first.json()["cascade"]
    assert shift["session"] == s3.pk and shift["to"].startswith("Wed 28 Apr 2027")
    data["cascade"] = json.dumps([{"session": shift["session"], "start": shift["start"]}])
    second = staff.post(url, data, HTTP_ACCEPT="application/json")
    assert second.status_code == 200, second.json()
    s3.refresh_from_db()
    assert s3.local_date() == dt.date(2027, 4, 28)


def test_cancel_complete_forms_post_back_with_messages(staff, clinic, frozen_clock, aesthetician):
    (s,) = book_plans(clinic, 1)
    response = staff.post(reverse("session-cancel", args=[s.pk]), {"by_client": "1", "reason": ""}, follow=True)
    assert "reason" in response.content.decode().lower()
    s.refresh_from_db()
    assert s.status == "booked"
    frozen_clock.move_to(at(MON, 12))
    staff.force_login(aesthetician)  # a month later the old login has expired
    record_check(s, by=aesthetician)
    response = staff.post(
        reverse("session-complete", args=[s.pk]),
        record_post(s) | {"from_record": "1", "score-pore_grade": "3", "notes": "ok"},
        follow=True,
    )
    s.refresh_from_db()
    # Session 1's record page rates the baseline pore grade with the sign-off.
    assert s.status == "completed" and s.outcome_scores.get().pore_grade == 3


def test_plan_booking_page_proposes_and_books_all(staff, clinic):
    plan = plan_to_book(first_target=MON)
    url = reverse("plan-book", args=[plan.pk])
    page = staff.get(url, {"propose": "1", "practitioner": clinic["ana"].pk, "part_of_day": "any"})
    assert page.status_code == 200
    form_value = page.context["proposal_form"].initial["proposal"]
    response = staff.post(url, {"action": "book", "proposal": form_value})
    assert response.status_code == 302 and "calendar" in response["Location"]
    assert plan.sessions.filter(status="booked").count() == 3


def test_plan_booking_page_offers_a_cancelled_session_again(staff, clinic):
    plan = plan_to_book(first_target=MON)
    url = reverse("plan-book", args=[plan.pk])
    choose = {"propose": "1", "practitioner": clinic["ana"].pk, "part_of_day": "any"}
    form_value = staff.get(url, choose).context["proposal_form"].initial["proposal"]
    staff.post(url, {"action": "book", "proposal": form_value})
    second = plan.sessions.get(sequence=2)
    booking.session_cancel(session=second, by_client=True, reason="Flu")
    page = staff.get(url, choose)
    assert "Every session is already booked" not in page.content.decode()
    assert [row["session"].id for row in page.context["rows"]] == [second.id]
    staff.post(url, {"action": "book", "proposal": page.context["proposal_form"].initial["proposal"]})
    assert plan.sessions.filter(status="booked").count() == 3


def test_plan_booking_page_explains_an_infeasible_series(staff, clinic):
    plan = plan_to_book(first_target=MON, count=1, spread=2)
    models.TimeOff.objects.create(
        practitioner=clinic["ana"],
        starts_at=at(MON - dt.timedelta(days=3), 0),
        ends_at=at(MON + dt.timedelta(days=3), 0),
    )
    page = staff.get(
        reverse("plan-book", args=[plan.pk]), {"propose": "1", "practitioner": clinic["ana"].pk, "part_of_day": "any"}
    ).content.decode()
    assert "cannot be booked as a whole" in page
    assert "Session 1 (Microneedling 1 of 1): Ana Silva fully booked or away" in page
    assert "Nothing was booked" in page


def test_feed_lists_bookings_and_a_regenerated_token_revokes_the_old_url(staff, clinic):
    (s,) = book_plans(clinic, 1)
    old = clinic["ana"].feed_token
    response = staff.get(reverse("practitioner-feed", args=[old]))
    cal = icalendar.Calendar.from_ical(response.content)
    (event,) = cal.walk("VEVENT")
    client = s.plan.client
    # The feed leaves the clinic: first name and initial only.
    assert event["summary"].startswith(f"{client.first_name} {client.last_name[0]}.")
    assert client.last_name not in event["summary"]
    assert event.decoded("dtstart") == s.starts_at
    staff.post(reverse("calendar-feed"))
    clinic["ana"].refresh_from_db()
    assert clinic["ana"].feed_token != old
    assert staff.get(reverse("practitioner-feed", args=[old])).status_code == 404
