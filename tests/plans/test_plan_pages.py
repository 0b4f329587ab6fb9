"""The plan and client pages show a plan as it is now: current session dates, what the outbox has scheduled."""

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse

from plans.models import CombinationKind, Placement
from plans.services import booking, clients
from plans.services.plans import plan_create
from tests.factories import ClientFactory
from tests.helpers.clock import at
from tests.plans.factories import NO_TO_ALL, CombinationTreatmentFactory

NOW = at(dt.date(2027, 2, 1), 8)  # a Monday
START = dt.date(2027, 2, 22)  # three weeks later: room for the D-7 pre-care


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def accepted(protocol, aesthetician, frozen):
    """A three-session plan (28 days apart) with a retinoid pause around each session, accepted by Ana."""
    CombinationTreatmentFactory(
        protocol=protocol,
        name="Retinoid pause",
        kind=CombinationKind.TOPICAL_PAUSE,
        placement=Placement.AROUND,
        offset_days=7,
        end_offset_days=3,
        min_days_after_mn=0,
        min_days_before_mn=0,
        optional=False,
        books_appointment=False,
    )

    def make(start=START):
        person = ClientFactory(email="rosa@example.com", email_consent=True)
        clients.screening_record(client=person, answers=NO_TO_ALL, screened_by=aesthetician)
        return plan_create(client=person, start=start, created_by=aesthetician)

    return make


def _care_rows(page: str) -> list[str]:
    table = page.split('id="care-notes"', 1)[1].split("</table>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in table.split("<tr>")[2:]]


def test_moving_and_cancelling_sessions_moves_what_the_plan_page_shows(client, aesthetician, clinic, accepted):  # noqa: F811
    plan = accepted()
    s1, s2, s3 = plan.sessions.filter(kind="microneedling").order_by("mn_number")
    for s in (s1, s2, s3):
        booking.session_book(session=s, starts_at=at(s.target, 10), practitioner=clinic["ana"], by=aesthetician)
    moved = dt.date(2027, 3, 25)  # three days after its target of 22 Mar
    booking.session_reschedule(session=s2, starts_at=at(moved, 10), practitioner=clinic["ana"], by=aesthetician)
    booking.session_cancel(session=s3, by_client=True, reason="Moving away", by=aesthetician)
    client.force_login(aesthetician)

    response = client.get(reverse("plan-detail", args=[plan.pk]))

    page = response.content.decode()
    care = _care_rows(page)
    session_two = [row for row in care if row.split(" ")[3] == "2"]
    assert [row.split(" (")[0] for row in session_two] == ["18 Mar 2027 2", "26 Mar 2027 2"]
    assert any("Stop retinoids" in row and "Pending 18 Mar 09:00" in row for row in session_two), session_two
    assert not [row for row in care if row.split(" ")[3] == "3"], "the cancelled session keeps no care notes"
    spans = [r["bar"] for r in response.context["timeline"]["rows"] if r["bar"].css == "span"]
    assert [(b.label, b.start, b.end) for b in spans if "session 2" in b.label] == [
        ("Retinoid pause (around session 2)", moved - dt.timedelta(days=7), moved + dt.timedelta(days=3))
    ]
    assert not [b for b in spans if "session 3" in b.label]
    visits = [r["bar"] for r in response.context["timeline"]["rows"] if r["bar"].css == "mn"]
    assert [b.target for b in visits] == [START, moved], "the cancelled session is off the timeline"

    client_page = client.get(reverse("client-detail", args=[plan.client.pk])).content.decode()
    assert "Thu 25 Mar 2027 10:00" in client_page and "target Mon 22 Mar 2027" not in client_page


def test_late_pre_care_is_no_longer_reported_once_the_session_moves_far_enough(client, aesthetician, clinic, accepted):  # noqa: F811
    plan = accepted(start=dt.date(2027, 2, 3))  # D-7 was 27 Jan: already late when the plan was made
    assert any(w.startswith("Pre-care already due") for w in plan.warnings)
    client.force_login(aesthetician)
    assert "Pre-care already due" in client.get(reverse("plan-detail", args=[plan.pk])).content.decode()

    first = plan.sessions.get(mn_number=1)
    booking.session_book(
        session=first, starts_at=at(dt.date(2027, 2, 17), 10), practitioner=clinic["ana"], by=aesthetician
    )

    page = client.get(reverse("plan-detail", args=[plan.pk])).content.decode()
    assert "Pre-care already due" not in page
    assert "10 Feb 2027" in page, "the D-7 note is dated from the booked day"


def test_a_new_plan_is_previewed_from_the_first_start_that_leaves_room_for_pre_care(client, aesthetician, accepted):
    person = ClientFactory()
    clients.screening_record(client=person, answers=NO_TO_ALL, screened_by=aesthetician)
    client.force_login(aesthetician)

    page = client.get(reverse("plan-new", args=[person.pk])).content.decode()

    # The protocol's earliest pre-care note is D-7: from Mon 1 Feb the first start is Mon 8 Feb.
    assert "Starts 8 Feb so the 7-day pre-care can be followed." in page
    assert 'value="2027-02-08"' in page and 'min="2027-02-01"' in page
    assert "Pre-care already due" not in page

    today = client.get(reverse("plan-new", args=[person.pk]), {"start": "2027-02-01"}).content.decode()
    assert "Pre-care already due" in today and 'id="start-reason"' not in today


def _queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_plan_and_client_pages_read_a_constant_number_of_queries(client, aesthetician, clinic, accepted):  # noqa: F811
    plan = accepted()
    client.force_login(aesthetician)
    plan_url = reverse("plan-detail", args=[plan.pk])
    client_url = reverse("client-detail", args=[plan.client.pk])
    before = (_queries(client, plan_url), _queries(client, client_url))

    for s in plan.sessions.filter(kind="microneedling"):
        booking.session_book(session=s, starts_at=at(s.target, 10), practitioner=clinic["ana"], by=aesthetician)
    for _ in range(2):
        plan_create(client=plan.client, start=START, created_by=aesthetician)

    assert (_queries(client, plan_url), _queries(client, client_url)) == before
