"""The outcomes report page and the evidence in the plan preview, as each role meets them."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from plans.roles import CLINICIAN
from plans.services import clients
from tests.factories import ClientFactory, ProtocolFactory
from tests.helpers.outcomes import outcome_plan
from tests.helpers.queries import BUDGET
from tests.plans.factories import NO_TO_ALL

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinician(role_user):
    return role_user(CLINICIAN, username="drkay", first_name="Kay", last_name="Adeyemi")


def add_outcomes(protocol, n: int, **profile):
    for i in range(n):
        outcome_plan(
            protocol=protocol,
            scores=(3, 1 + i % 2),
            gais=2,
            satisfaction=8,
            sessions=((dt.date(2026, 1, 12), True),),
            **profile,
        )


def count_queries(client, url, params=None) -> tuple[int, str]:
    client.get(url, params or {})  # warm per-process caches (content types, permissions)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.status_code
    return len(ctx.captured_queries), response.content.decode()


def test_clinicians_and_admins_read_the_report_with_its_charts_tables_and_link(client, clinician, clinic_admin):
    add_outcomes(ProtocolFactory(name="Pores, light skin"), 5)
    for user in (clinician, clinic_admin):
        client.force_login(user)
        page = client.get(reverse("outcomes-report")).content.decode()
        assert 'id="nav-outcomes"' in page and "Pores, light skin" in page
        assert 'id="chart-pore-change"' in page and 'id="chart-pore-change-numbers"' in page
        assert "vendor/chartjs/chart.umd.min.js" in page and 'id="split-fitzpatrick"' in page
        assert "−1.0 (IQR −2.0 to 0.0)" in page or "−2.0" in page


@pytest.mark.parametrize("role", ["front_desk", "aesthetician"])
def test_front_desk_and_aestheticians_are_refused_and_see_no_link(client, request, role):
    user = request.getfixturevalue(role)
    add_outcomes(ProtocolFactory(name="Pores, light skin"), 5)
    client.force_login(user)
    assert client.get(reverse("outcomes-report")).status_code == 403
    assert client.get(reverse("outcomes-report-csv")).status_code == 403
    home = client.get(reverse("home")).content.decode()
    assert 'id="nav-outcomes"' not in home and "/reports/outcomes/" not in home and "Outcomes" not in home
    forbidden = client.get(reverse("outcomes-report")).content.decode()
    assert "Pores, light skin" not in forbidden and "too few to say" not in forbidden


def test_bad_filters_get_a_message_and_no_figures(client, clinic_admin):
    add_outcomes(ProtocolFactory(name="Pores, light skin"), 5)
    client.force_login(clinic_admin)
    response = client.get(reverse("outcomes-report"), {"start_from": "2026-03-01", "start_to": "2026-01-01"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "The end of the range must not be before its start." in page and 'id="split-all"' not in page
    page = client.get(reverse("outcomes-report"), {"practitioner": "999999"}).content.decode()
    assert "Select a valid choice" in page and 'id="split-all"' not in page


def test_no_plans_in_range_says_so(client, clinic_admin):
    add_outcomes(ProtocolFactory(name="Pores, light skin"), 1)
    client.force_login(clinic_admin)
    page = client.get(reverse("outcomes-report"), {"start_from": "2030-01-01"}).content.decode()
    assert 'id="report-empty"' in page


def test_the_report_page_stays_within_the_query_budget_whatever_the_data(client, clinic_admin):
    client.force_login(clinic_admin)
    light = ProtocolFactory(name="Pores, light skin")
    add_outcomes(light, 2)
    small, _ = count_queries(client, reverse("outcomes-report"), {"start_from": "2025-01-01"})
    add_outcomes(light, 6, fitzpatrick=5, age=50, pores="severe")
    add_outcomes(ProtocolFactory(name="Pores, dark skin"), 6, fitzpatrick=6)
    large, page = count_queries(client, reverse("outcomes-report"), {"start_from": "2025-01-01"})
    assert "Pores, dark skin" in page
    assert large == small <= BUDGET


# --- The evidence line in the plan preview ----------------------------------------------------


@pytest.fixture
def preview(client, aesthetician, protocol):
    """The preview of a new plan for a Fitzpatrick II client with mild pores, 36 at the start."""
    client.force_login(aesthetician)
    person = ClientFactory(fitzpatrick=2, pore_concern="mild", date_of_birth=dt.date(1990, 5, 17))
    clients.screening_record(client=person, answers=NO_TO_ALL, screened_by=aesthetician)
    start = dt.date.today() + dt.timedelta(days=7)
    return reverse("plan-new", args=[person.pk]), {"start": start.isoformat()}


def test_the_preview_says_how_clients_like_this_one_did_here(preview, client, protocol, monkeypatch):
    url, params = preview
    page = client.get(url, params).content.decode()
    assert 'id="evidence"' in page and "No outcomes recorded yet for clients like this." in page
    age = dt.date.today().year - 1990 - 1
    add_outcomes(protocol, 3, pores="mild", age=age)
    page = client.get(url, params).content.decode()
    assert "3 clients like this with outcomes recorded: too few to say." in page
    add_outcomes(protocol, 3, pores="mild", age=age)
    add_outcomes(protocol, 4, pores="severe", age=age)  # another group: not counted
    with_evidence, page = count_queries(client, url, params)
    assert "6 clients like this with outcomes recorded: median change in pore grade −2.0 (IQR −2.0 to" in page
    assert "GAIS improved 100% (6 of 6)" in page

    from plans.views import plans as plan_views

    monkeypatch.setattr(plan_views, "_evidence", lambda client, proposal: None)
    without, page = count_queries(client, url, params)
    assert 'id="evidence"' not in page
    assert with_evidence - without <= 2
