"""The demo gives the report a year of outcomes to show, and loading it again adds nothing."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from plans import models, reports

pytestmark = pytest.mark.django_db


def test_the_demo_year_fills_the_report_and_loads_once():
    call_command("load_demo", stdout=io.StringIO())
    plans = models.TreatmentPlan.objects.count()
    scores = models.OutcomeScore.objects.count()
    report = reports.outcomes_report(reports.ReportFilters())
    # The past year is past: no visit done today or later (PostgreSQL's no-overlap constraint
    # checks the diaries themselves).
    assert not models.PlanSession.objects.filter(status="completed", starts_at__gte=timezone.now()).exists()

    shown = [row for row in report.table("all").rows if row.pore_change.shown and row.improved.shown]
    assert len(shown) >= 3, "most protocols should have enough outcomes to show"
    dark = [row for row in report.table("fitzpatrick").rows if row.group == "Fitzpatrick IV-VI"]
    assert any(row.pih.shown and row.pih.count for row in dark), "PIH in darker skin is what the report watches"
    assert any(row.satisfaction.shown for row in shown)
    assert any(not row.pore_change.shown for row in report.table("age").rows), "some groups are too small"

    again = io.StringIO()
    call_command("load_demo", stdout=again)
    assert models.TreatmentPlan.objects.count() == plans and models.OutcomeScore.objects.count() == scores
    assert "nothing changed" in again.getvalue()
