"""Booking from an empty slot: the sessions due that day, ranked and bounded, with search for
the others. It used to list every active plan (60 s and 1.5 MB at a tenth of full size)."""

import datetime as dt

import pytest
from django.urls import reverse

from plans import selectors
from plans.services import booking
from tests.helpers.clock import at
from tests.helpers.plans import plan_to_book

MON = dt.date(2027, 3, 1)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]


def ids(rows):
    return [r["id"] for r in rows]


def first(plan):
    return plan.sessions.order_by("sequence").first()


def test_only_sessions_whose_window_holds_the_day_nearest_their_target_first(clinic):
    on_target = plan_to_book(first_target=MON)
    two_off = plan_to_book(first_target=MON + dt.timedelta(days=2))
    plan_to_book(first_target=MON + dt.timedelta(days=30))  # its window opens later
    rows = selectors.bookable_here(day=MON)
    assert ids(rows) == [first(on_target).pk, first(two_off).pk]
    assert all(r["inWindow"] for r in rows)


def test_each_plan_offers_its_next_session_only(clinic):
    plan = plan_to_book(first_target=MON, spread=40)  # windows overlap: sessions 1 and 2 both hold MON
    assert ids(selectors.bookable_here(day=MON)) == [first(plan).pk]
    booking.session_book(session=first(plan), starts_at=at(MON, 9), practitioner=clinic["ana"])
    second = plan.sessions.get(sequence=2)
    assert ids(selectors.bookable_here(day=MON + dt.timedelta(days=28))) == [second.pk]


def test_the_practitioner_who_treats_the_client_comes_first_then_the_longest_waiting(clinic):
    bens = plan_to_book(first_target=MON, spread=10)
    booking.session_book(session=first(bens), starts_at=at(MON - dt.timedelta(days=5), 9), practitioner=clinic["ben"])
    booking.session_cancel(session=first(bens), by_client=True, reason="Ill")
    waiting = plan_to_book(first_target=MON, spread=14)
    newer = plan_to_book(first_target=MON, spread=7)
    assert ids(selectors.bookable_here(day=MON, practitioner_id=clinic["ben"].pk)) == [
        first(bens).pk,
        first(waiting).pk,
        first(newer).pk,
    ]
    rows = selectors.bookable_here(day=MON, practitioner_id=clinic["ana"].pk)
    assert ids(rows) == [first(waiting).pk, first(bens).pk, first(newer).pk]
    assert not any(r["usual"] for r in rows)


def test_at_most_twenty_and_search_finds_any_client_whatever_the_window(client, clinic, front_desk):
    plans = [plan_to_book(first_target=MON) for _ in range(25)]
    later = plan_to_book(first_target=MON + dt.timedelta(days=60))
    later.client.last_name = "Zanetti"
    later.client.save()
    client.force_login(front_desk)
    rows = client.get(reverse("calendar-bookable"), {"date": "2027-03-01"}).json()
    assert len(rows) == selectors.BOOK_HERE_LIMIT
    assert set(ids(rows)) <= {first(p).pk for p in plans}
    found = client.get(reverse("calendar-bookable"), {"date": "2027-03-01", "q": "zanet"}).json()
    assert ids(found) == [first(later).pk] and not found[0]["inWindow"]
