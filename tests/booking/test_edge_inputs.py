"""Dates at the edges of Python's range, impossible dates, huge and non-ASCII numbers and NUL,
sent to every calendar and booking endpoint: never a 5xx, never a write.

Every date the app accepts lies within plans.forms.fields.date_range() (YEARS_BACK, YEARS_AHEAD).
"""

import datetime as dt
import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from plans import models
from plans.forms import fields
from plans.services import booking
from tests.helpers.clock import at
from tests.helpers.plans import plan_to_book
from tests.helpers.records import record_post

pytestmark = pytest.mark.usefixtures("frozen_clock")

MON = dt.date(2027, 3, 1)
DATES = ["9999-12-31", "0001-01-01", "2026-02-30", "2027-13-01", "²", "٢٠٢٧-٠٣-٠١", "2027-03-01\x00", "\x00"]
TIMES = [
    "9999-12-31T23:30",
    "0001-01-01T00:00",
    "9999-12-31T22:00:00+00:00",
    "0001-01-01T00:00:00+14:00",
    "2027-02-30T10:00",
    "2027-03-01T10:00\x00",
    "٢٠٢٧-٠٣-٠١T10:00",
]
NUMBERS = ["99999999999999999999999999", "9223372036854775808", "²", "٣", "-1", "1\x00", "1e9"]


@pytest.fixture
def booked(clinic):
    """One plan with its first session booked (to move, cancel, complete) and one still to book."""
    plan = plan_to_book(first_target=MON, count=2)
    first = plan.sessions.get(sequence=1)
    booking.session_book(session=first, starts_at=at(MON, 10), practitioner=clinic["ana"], room=clinic["room_a"])
    return plan


def snapshot_of_writes():
    return (
        list(models.PlanSession.objects.order_by("id").values_list("id", "status", "starts_at", "version")),
        models.Message.objects.count(),
        models.TreatmentPlan.objects.count(),
        list(models.TreatmentPlan.objects.order_by("id").values_list("id", "requested_start", "updated_at")),
    )


def gets(plan, session):
    out = []
    for value in DATES:
        out += [
            (reverse("calendar"), {"date": value}),
            (reverse("calendar-events"), {"start": value}),
            (reverse("calendar-events"), {"start": "2027-03-01", "end": value}),
            (reverse("calendar-closed"), {"start": value}),
            (reverse("calendar-bookable"), {"date": value}),
            (reverse("day-list"), {"date": value}),
            (reverse("plan-new", args=[plan.client_id]), {"start": value}),
        ]
    for value in NUMBERS:
        out += [
            (reverse("calendar-events"), {"start": "2027-03-01", "practitioner": value}),
            (reverse("plan-book", args=[plan.pk]), {"propose": "1", "practitioner": value}),
            (reverse("plan-book", args=[plan.pk]), {"propose": "1", "weekdays": value}),
        ]
    return out


def posts(plan, booked_session, waiting_session, clinic):
    ana = clinic["ana"].pk
    out = []
    for value in TIMES:
        out += [
            (reverse("session-book", args=[waiting_session.pk]), {"starts_at": value, "practitioner": ana}),
            (reverse("session-reschedule", args=[booked_session.pk]), {"starts_at": value, "practitioner": ana}),
            (
                reverse("session-reschedule", args=[booked_session.pk]),
                {
                    "starts_at": "2027-03-01T11:00",
                    "practitioner": ana,
                    "cascade": json.dumps([{"session": waiting_session.pk, "start": value}]),
                },
            ),
            (
                reverse("plan-book", args=[plan.pk]),
                {
                    "action": "book",
                    "proposal": json.dumps(
                        [
                            {
                                "session": waiting_session.pk,
                                "practitioner": ana,
                                "room": clinic["room_a"].pk,
                                "start": value,
                                "end": value,
                                "blocked_until": value,
                            }
                        ]
                    ),
                },
            ),
        ]
    for value in DATES:
        out.append((reverse("plan-recompute", args=[plan.pk]), {"start": value}))
    for value in NUMBERS:
        out += [
            (
                reverse("session-book", args=[waiting_session.pk]),
                {"starts_at": "2027-03-01T12:00", "practitioner": value},
            ),
            (
                reverse("session-book", args=[waiting_session.pk]),
                {"starts_at": "2027-03-01T12:00", "practitioner": ana, "room": value},
            ),
            (
                reverse("session-complete", args=[booked_session.pk]),
                record_post(booked_session) | {"zone_0": value, "passes": value},
            ),
            (
                # The record page's optional baseline rating, inside the sign-off.
                reverse("session-complete", args=[booked_session.pk]),
                record_post(booked_session)
                | {"from_record": "1", "score-pore_grade": value, "score-device_measurement": value},
            ),
            (reverse("session-cancel", args=[booked_session.pk]), {"by_client": value, "reason": "x" * 300}),
        ]
    return out


def test_edge_values_on_every_calendar_and_booking_get_answer_without_a_5xx(staff, booked):
    session = booked.sessions.get(sequence=1)
    for path, params in gets(booked, session):
        response = staff.get(path, params)
        assert response.status_code < 500, (path, params, response.status_code)


def test_edge_values_on_every_booking_post_answer_without_a_5xx_and_write_nothing(staff, booked, clinic):
    before = snapshot_of_writes()
    first, second = booked.sessions.order_by("sequence")
    for path, data in posts(booked, first, second, clinic):
        for accept in ("application/json", "text/html"):
            response = staff.post(path, data, HTTP_ACCEPT=accept)
            assert response.status_code < 500, (path, data, response.status_code)
    assert snapshot_of_writes() == before


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("calendar-events", {"start": "9999-12-31"}),
        ("calendar-events", {"start": "0001-01-01"}),
        ("calendar-events", {"start": "2027-03-01", "practitioner": "²"}),
        ("calendar-events", {"start": "2026-02-30"}),
        ("day-list", {"date": "0001-01-01"}),
        ("day-list", {"date": "9999-12-31"}),
        ("calendar", {"date": "9999-12-31"}),
    ],
)
def test_a_date_or_id_out_of_range_is_a_400_that_says_why(staff, clinic, name, params):
    response = staff.get(reverse(name), params)
    assert response.status_code == 400
    text = response.content.decode()
    assert "Choose a date between" in text or "is not a date" in text or "is not an id" in text


def test_booking_far_in_the_future_is_refused_with_the_range(staff, booked, clinic):
    waiting = booked.sessions.get(sequence=2)
    response = staff.post(
        reverse("session-book", args=[waiting.pk]),
        {"starts_at": "9999-12-31T23:30", "practitioner": clinic["ana"].pk},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and "Choose a date between" in body["error"]


@pytest.mark.parametrize("value", [*TIMES, "2027-03-01T10:00", 5, None, "2027-03-01T10:00+01:00\x00"])
def test_parse_aware_refuses_with_value_error_only(value):
    # The forms catch ValueError; an OverflowError from the edges of Python's range would be a 500.
    with pytest.raises(ValueError):
        fields.parse_aware(value)


@pytest.mark.parametrize("value", NUMBERS)
def test_parse_id_param_refuses_what_int_or_the_database_cannot_take(value):
    with pytest.raises(ValidationError):
        fields.parse_id_param(value)


def test_the_range_is_ten_years_back_and_five_ahead():
    first, last = fields.date_range(dt.date(2027, 2, 1))
    assert first == dt.date(2017, 2, 1) and last == dt.date(2032, 2, 1)
    assert fields.parse_date_param("2032-02-01") == dt.date(2032, 2, 1)
    with pytest.raises(ValidationError, match="Choose a date between"):
        fields.parse_date_param("2032-02-02")
