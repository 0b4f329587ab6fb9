"""Every list and calendar page runs a fixed number of queries, whatever the data's size.

Each page is requested with a little data and with several times more; the query count must
be the same (no query per row) and within the budget in tests/helpers/queries.py. The figures at a million
sessions are in BENCHMARKS.md (`make bench`).
"""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from plans import models
from plans.services import booking, intake
from tests.helpers.clock import at
from tests.helpers.plans import plan_to_book
from tests.helpers.queries import BUDGET, TODAY_BUDGET

MON = dt.date(2027, 3, 1)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen_clock")]


def add_booked_plans(clinic, n: int, *, after: int = 0) -> list[models.TreatmentPlan]:
    """n three-session plans, the first session of each booked in the week of MON (Ana and Ben
    alternately, six each a day), each plan's client with a pending confirmation and reminders.
    `after`: how many were added before, so the new ones take the next free slots."""
    plans = []
    for i in range(after, after + n):
        plan = plan_to_book(first_target=MON, count=3)
        who = clinic["ana"] if i % 2 == 0 else clinic["ben"]
        day = MON + dt.timedelta(days=i // 12)
        start = at(day, 9) + dt.timedelta(minutes=75 * (i % 12 // 2))
        first = plan.sessions.order_by("sequence").first()
        booking.session_book(session=first, starts_at=start, practitioner=who)
        # Each client waits for an earlier slot, every other one with an offer out.
        entry = models.WaitlistEntry.objects.create(session=first, requested_at=start - dt.timedelta(days=20))
        if i % 2 == 0:
            models.WaitlistOffer.objects.create(
                entry=entry,
                practitioner=who,
                room=clinic["room_a"],
                starts_at=start - dt.timedelta(days=1),
                created_at=start - dt.timedelta(days=20),
                expires_at=start - dt.timedelta(days=19),
            )
        # And someone new who called is emailed the new-client forms.
        intake.intake_invite(first_name="New", last_name=f"Caller {i}", email=f"caller{i}@example.com", by=None)
        plans.append(plan)
    return plans


def pages(plans: list[models.TreatmentPlan], clinic) -> dict[str, tuple[str, dict]]:
    plan, client = plans[0], plans[0].client
    week = {"start": "2027-03-01", "end": "2027-03-08"}
    return {
        "home": (reverse("home"), {}),
        "client list": (reverse("client-list"), {}),
        "client search": (reverse("client-list"), {"q": client.last_name[:3]}),
        "client list, page 2": (reverse("client-list"), {"page": 2}),
        "client page": (reverse("client-detail", args=[client.pk]), {}),
        "client messages": (reverse("client-messages", args=[client.pk]), {}),
        "messages": (reverse("messages"), {}),
        "messages, pending reminders": (reverse("messages"), {"status": "pending", "kind": "reminder"}),
        "plan page": (reverse("plan-detail", args=[plan.pk]), {}),
        "plan booking": (reverse("plan-book", args=[plan.pk]), {}),
        "calendar": (reverse("calendar"), {"date": "2027-03-01"}),
        "calendar week (JSON)": (reverse("calendar-events"), week),
        "calendar week, one practitioner": (reverse("calendar-events"), {**week, "practitioner": clinic["ben"].pk}),
        "calendar week by room": (reverse("calendar-events"), {**week, "mode": "rooms"}),
        "calendar closed time (JSON)": (reverse("calendar-closed"), week),
        "calendar closed time by room": (reverse("calendar-closed"), {**week, "mode": "rooms"}),
        "bookable sessions": (reverse("calendar-bookable"), {"date": "2027-03-01"}),
        "bookable sessions for a practitioner": (
            reverse("calendar-bookable"),
            {"date": "2027-03-01", "practitioner": clinic["ana"].pk},
        ),
        "bookable sessions, search": (reverse("calendar-bookable"), {"date": "2027-03-01", "q": "client"}),
        "day list": (reverse("day-list"), {"date": "2027-03-01"}),
        "waitlist": (reverse("waitlist"), {}),
        "new-client forms": (reverse("intake-list"), {}),
        "session panel": (reverse("session-panel", args=[plan.sessions.order_by("sequence").first().pk]), {}),
    }


def count_queries(client, url: str, params: dict) -> int:
    client.get(url, params)  # first request warms per-process caches (content types, permissions)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200, (url, response.status_code)
    return len(ctx.captured_queries)


def test_list_and_calendar_pages_run_the_same_few_queries_for_little_and_much_data(client, clinic, clinic_admin):
    client.force_login(clinic_admin)
    plans = add_booked_plans(clinic, 2)
    small = {name: count_queries(client, url, params) for name, (url, params) in pages(plans, clinic).items()}

    plans += add_booked_plans(clinic, 28, after=2)  # 30 clients, plans and bookings; two pages of clients
    large = {name: count_queries(client, url, params) for name, (url, params) in pages(plans, clinic).items()}

    assert large == small, "a page's query count grew with the data: one query per row?"
    over = {name: n for name, n in large.items() if n > (TODAY_BUDGET if name == "home" else BUDGET)}
    assert not over, f"pages over the budget of {BUDGET} queries (Today {TODAY_BUDGET}): {over}"


def test_the_client_list_past_its_cap_says_so_and_still_pages(client, clinic, clinic_admin, monkeypatch):
    from plans.views import clients as client_views

    client.force_login(clinic_admin)
    add_booked_plans(clinic, 7)
    # 2 per page and 3 pages: the cap is 6 of the 7 clients.
    monkeypatch.setattr(client_views, "PAGE_SIZE", 2)
    monkeypatch.setattr(client_views, "MAX_PAGES", 3)
    first = client.get(reverse("client-list")).content.decode()
    last = client.get(reverse("client-list"), {"page": 3}).content.decode()
    beyond = client.get(reverse("client-list"), {"page": 9}).content.decode()
    assert 'id="list-capped"' in first and "More than 6 clients" in first
    assert "Page 1 of 3+" in first and "Page 3 of 3+" in last and "Page 3 of 3+" in beyond
    names = sorted(models.Client.objects.values_list("last_name", "first_name"))
    for last_name, first_name in names[4:6]:
        assert f"{last_name}, {first_name}" in last
