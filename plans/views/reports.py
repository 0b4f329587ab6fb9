"""The protocol outcomes report: the page (tables and charts) and its CSV export."""

from __future__ import annotations

import csv

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from plans import reports
from plans.forms.reports import ReportFilterForm
from plans.permissions import staff_required


def _report(request) -> tuple[ReportFilterForm, reports.OutcomesReport | None]:
    """The form and, when its filters are valid (or none are given), the report."""
    form = ReportFilterForm(request.GET or None)
    if not request.GET:
        return form, reports.outcomes_report(reports.ReportFilters())
    if not form.is_valid():
        return form, None
    return form, reports.outcomes_report(form.filters())


@staff_required("plans.view_outcomes_report")
def outcomes_report(request):
    form, report = _report(request)
    context = {
        "form": form,
        "report": report,
        "charts": reports.chart_data(report) if report else None,
        "min_group": reports.MIN_GROUP,
        "csv_query": request.GET.urlencode(),
    }
    return render(request, "plans/reports/outcomes.html", context)


@staff_required("plans.view_outcomes_report")
def outcomes_report_csv(request):
    form, report = _report(request)
    if report is None:
        errors = "; ".join(f"{field}: {' '.join(e)}" for field, e in form.errors.items())
        return HttpResponse(f"Bad filters: {errors}", status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"outcomes-{timezone.localdate():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    for row in reports.csv_rows(report):
        writer.writerow([reports.csv_safe(cell) for cell in row])
    return response
