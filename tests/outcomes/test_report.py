"""The protocol outcomes report, checked against figures worked out by hand.

Protocol A, eight plans:
- five Fitzpatrick II clients aged 35 with moderate pores, all completed, each with two completed
  sessions (one session of one plan outside its window): pore grades 3→1, 3→2, 2→2, 4→1, 3→2
  (changes -2, -1, 0, -3, -1), GAIS 1, 2, 3, 4, 2, satisfaction 8, 9, 5, 10, 7;
- three Fitzpatrick V clients aged 25 with severe pores, started a month later: one completed
  (2→4, change +2, GAIS 5, PIH), one in progress, one dropped out.
Protocol B: one plan in progress, nothing recorded.

All of A: changes -3, -2, -1, -1, 0, +2: median -1, quartiles (linear, as percentile_cont)
-2 + 0.25 × 1 = -1.75 and -1 + 0.75 × 1 = -0.25.
"""

import datetime as dt

import pytest
from django.urls import reverse

from plans import reports
from plans.cohorts import Cohort
from tests.factories import PractitionerFactory, ProtocolFactory
from tests.helpers.outcomes import outcome_plan

pytestmark = pytest.mark.django_db

JAN, FEB = dt.date(2026, 1, 5), dt.date(2026, 2, 2)
LIGHT = [((3, 1), 1, 8), ((3, 2), 2, 9), ((2, 2), 3, 5), ((4, 1), 4, 10), ((3, 2), 2, 7)]


@pytest.fixture
def fixture():
    a = ProtocolFactory(name="A protocol")
    b = ProtocolFactory(name="B protocol")
    ana, ben = PractitionerFactory(display_name="Ana"), PractitionerFactory(display_name="Ben")
    for i, (scores, gais, sat) in enumerate(LIGHT):
        sessions = ((JAN + dt.timedelta(days=7), True), (JAN + dt.timedelta(days=35), i != 0))
        outcome_plan(
            protocol=a,
            scores=scores,
            gais=gais,
            satisfaction=sat,
            sessions=sessions,
            practitioner=ana if i < 3 else ben,
        )
    dark = {"fitzpatrick": 5, "age": 25, "pores": "severe", "start": FEB}
    outcome_plan(protocol=a, scores=(2, 4), gais=5, adverse=("pih",), **dark)
    outcome_plan(protocol=a, status="active", **dark)
    outcome_plan(protocol=a, status="cancelled", **dark)
    outcome_plan(protocol=b, status="active")
    return {"a": a, "b": b, "ana": ana}


def row(report, split, protocol, group):
    return next(r for r in report.table(split).rows if r.protocol == protocol and r.group == group)


def test_the_figures_per_protocol_match_the_hand_computed_ones(fixture):
    report = reports.outcomes_report(reports.ReportFilters())
    a = row(report, "all", "A protocol", "All clients")
    assert (a.started, a.completed, a.in_progress, a.dropped_out) == (8, 6, 1, 1)
    assert (a.pore_change.n, a.pore_change.value, a.pore_change.low, a.pore_change.high) == (6, -1, -1.75, -0.25)
    assert str(a.pore_change) == "−1.0 (IQR −1.8 to −0.2)"
    assert a.sessions_per_plan.value == 10 / 8
    assert (a.adherence.value, a.adherence.count, a.adherence.total) == (0.9, 9, 10)
    assert str(a.adherence) == "90% (9 of 10)"
    assert {g: f.count for g, f in a.gais.items()} == {1: 1, 2: 2, 3: 1, 4: 1, 5: 1}
    assert str(a.improved) == "67% (4 of 6)"
    assert (a.satisfaction.n, a.satisfaction.value, a.satisfaction.low, a.satisfaction.high) == (5, 8, 7, 9)
    assert (a.pih.count, a.pih.n) == (1, 8) and a.pih.value == 1 / 8
    assert a.other_adverse == ["none"]


def test_each_split_groups_clients_as_they_were_and_small_groups_say_too_few(fixture):
    report = reports.outcomes_report(reports.ReportFilters())
    light = row(report, "fitzpatrick", "A protocol", "Fitzpatrick I-III")
    dark = row(report, "fitzpatrick", "A protocol", "Fitzpatrick IV-VI")
    assert light.started == 5 and light.pore_change.value == -1
    assert (light.pore_change.low, light.pore_change.high) == (-2, -1)
    assert str(light.improved) == "80% (4 of 5)" and str(light.pih) == "0% (0 of 5)"
    # Three dark-skinned clients: their PIH is real, but a rate from three people is not shown.
    assert (dark.started, dark.completed, dark.in_progress, dark.dropped_out) == (3, 1, 1, 1)
    for figure in (dark.pih, dark.pore_change, dark.improved, dark.satisfaction, dark.sessions_per_plan):
        assert str(figure) == "too few to say" and figure.chart_value is None
    assert dark.other_adverse == ["too few to say"]
    assert row(report, "age", "A protocol", "30-44").started == 5
    assert str(row(report, "age", "A protocol", "<30").pore_change) == "too few to say"
    assert row(report, "severity", "A protocol", "Severe").started == 3
    assert row(report, "oiliness", "A protocol", "Normal").started == 8
    assert str(row(report, "all", "B protocol", "All clients").pore_change) == "too few to say"


def test_a_client_who_changed_since_still_counts_where_they_were_treated(fixture):
    from plans.models import Client

    Client.objects.filter(fitzpatrick=2).update(fitzpatrick=6, pore_concern="mild")
    report = reports.outcomes_report(reports.ReportFilters())
    assert row(report, "fitzpatrick", "A protocol", "Fitzpatrick I-III").started == 5


def test_filters_by_start_date_and_practitioner(fixture):
    later = reports.outcomes_report(reports.ReportFilters(start_from=dt.date(2026, 2, 1)))
    assert row(later, "all", "A protocol", "All clients").started == 3
    until = reports.outcomes_report(reports.ReportFilters(start_to=dt.date(2026, 1, 31)))
    assert row(until, "all", "A protocol", "All clients").started == 5
    ana = reports.outcomes_report(reports.ReportFilters(practitioner_id=fixture["ana"].pk))
    treated = row(ana, "all", "A protocol", "All clients")
    assert treated.started == 3 and str(treated.pore_change) == "too few to say"
    assert [r.protocol for r in ana.table("all").rows] == ["A protocol"]


def test_the_small_group_rule_is_at_five():
    assert str(reports.share(1, 4)) == "too few to say"
    assert str(reports.share(1, 5)) == "20% (1 of 5)"
    assert str(reports.median(4, 1.0, 0.5, 2.0)) == "too few to say"
    assert reports.median(5, 1.0, 0.5, 2.0).chart_value == 1.0


def test_the_report_runs_the_same_queries_for_little_and_much_data(fixture, django_assert_num_queries):
    with django_assert_num_queries(5):
        reports.outcomes_report(reports.ReportFilters())
    for _ in range(6):
        outcome_plan(protocol=fixture["b"], scores=(3, 1), gais=2, satisfaction=9, adverse=("infection",))
    with django_assert_num_queries(5):
        report = reports.outcomes_report(reports.ReportFilters())
    b = row(report, "all", "B protocol", "All clients")
    assert str(b.pore_change) == "−2.0 (IQR −2.0 to −2.0)"
    assert b.other_adverse == ["Infection: 86% (6 of 7)"]


# --- The evidence line ------------------------------------------------------------------------


def test_evidence_for_clients_like_this_one(fixture, django_assert_num_queries):
    like_light = Cohort(fitzpatrick=3, age=40, oiliness="oily", pore_concern="moderate")
    with django_assert_num_queries(1):
        evidence = reports.evidence_for(protocol_id=fixture["a"].pk, protocol_name="A protocol", cohort=like_light)
    assert evidence.line == (
        "5 clients like this with outcomes recorded: median change in pore grade −1.0 (IQR −2.0 to −1.0) · "
        "GAIS improved 80% (4 of 5) · adverse events in 0% (0 of 5) of plans started."
    )
    assert evidence.group == "Fitzpatrick I-III, age 30-44, moderate pores"


def test_evidence_for_a_small_group_says_too_few_and_none_says_none(fixture):
    like_dark = Cohort(fitzpatrick=4, age=29, oiliness="normal", pore_concern="severe")
    few = reports.evidence_for(protocol_id=fixture["a"].pk, protocol_name="A protocol", cohort=like_dark)
    assert few.line == "1 client like this with outcomes recorded: too few to say."
    nobody = Cohort(fitzpatrick=2, age=35, oiliness="normal", pore_concern="moderate")
    none = reports.evidence_for(protocol_id=fixture["b"].pk, protocol_name="B protocol", cohort=nobody)
    assert none.line == "No outcomes recorded yet for clients like this."


# --- CSV --------------------------------------------------------------------------------------


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_a_spreadsheet_would_run_are_text(start):
    assert reports.csv_safe(f"{start}HYPERLINK(1)") == f"'{start}HYPERLINK(1)"
    assert reports.csv_safe("A protocol") == "A protocol" and reports.csv_safe(5) == "5"


def test_the_csv_export_has_every_split_and_a_formula_named_protocol_as_text(fixture, client, clinic_admin):
    fixture["a"].name = "=cmd|' /C calc'!A0"
    fixture["a"].save()
    client.force_login(clinic_admin)
    response = client.get(reverse("outcomes-report-csv"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    body = response.content.decode()
    assert "\"'=cmd|' /C calc'!A0\"" in body or "'=cmd|" in body
    assert not any(line.startswith("=") or ",=" in line for line in body.splitlines())
    assert "Fitzpatrick group,Fitzpatrick IV-VI" in body and "too few to say" in body
    assert client.get(reverse("outcomes-report-csv"), {"start_from": "nonsense"}).status_code == 400
