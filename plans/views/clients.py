"""Client list, intake (create/edit with screening) and the client page."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render

from plans import selectors
from plans.forms.clients import ClientIntakeForm, ClientSearchForm, ScreeningCorrectionForm
from plans.models import Client
from plans.pagination import CappedPaginator
from plans.permissions import staff_required
from plans.services import clients as client_services
from plans.services.privacy import record_access_log

PAGE_SIZE = 25
# Pages the list reaches before it asks for a narrower search (plans.pagination.CappedPaginator).
MAX_PAGES = 40


@staff_required("plans.view_client")
def client_list(request):
    form = ClientSearchForm(request.GET or None)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    clients = selectors.client_list_search(query)
    page = CappedPaginator(clients, PAGE_SIZE, max_pages=MAX_PAGES).get_page(request.GET.get("page"))
    return render(request, "plans/clients/list.html", {"form": form, "page": page, "query": query})


# The navbar search shows this many; the client list pages through the rest.
QUICK_RESULTS = 8


@staff_required("plans.view_client")
def client_search(request):
    """The navbar's as-you-type search. The text comes by POST, so no name, phone or date of
    birth lands in a URL (history, proxies, referrers). htmx gets the result list; a browser
    without JavaScript gets it as a page."""
    form = ClientSearchForm(request.POST or None)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    found = list(selectors.client_list_search(query)[: QUICK_RESULTS + 1]) if query else []
    context = {"query": query, "results": found[:QUICK_RESULTS], "more": len(found) > QUICK_RESULTS}
    if request.htmx:
        return render(request, "plans/clients/_quick_results.html", context)
    return render(request, "plans/clients/search.html", context)


@staff_required("plans.add_client", "plans.view_clinical_record")
def client_create(request):
    form = ClientIntakeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            client = client_services.client_create(
                **form.client_values(), screening=form.screening_answers(), screened_by=request.user
            )
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, f"{client.full_name} was added with today's screening.")
            return redirect("client-detail", pk=client.pk)
    return render(request, "plans/clients/form.html", {"form": form, "title": "New client"})


@staff_required("plans.change_client", "plans.view_clinical_record")
def client_edit(request, pk: int):
    client = get_object_or_404(Client, pk=pk)
    form = ClientIntakeForm(
        request.POST or None, instance=client, current_answers=client_services.current_answers(client)
    )
    if request.method == "POST" and form.is_valid():
        try:
            client_services.client_update(
                client=Client.objects.get(pk=pk),
                screening=form.screening_answers(),
                screened_by=request.user,
                **form.client_values(),
            )
        except ValidationError as error:
            form.apply_service_errors(error)
        else:
            messages.success(request, "Saved. A changed screening is recorded as a new, dated screen.")
            return redirect("client-detail", pk=pk)
    return render(request, "plans/clients/form.html", {"form": form, "title": f"Edit {client.full_name}"})


@staff_required("plans.view_client")
def client_detail(request, pk: int):
    client = get_object_or_404(Client, pk=pk)
    record_access_log(user=request.user, client=client, action="view")
    # Front desk gets the contact details and bookings: the screen is not even read for them.
    clinical = request.user.has_perm("plans.view_clinical_record")
    screening = selectors.client_current_screening(client) if clinical else None
    answers = selectors.client_current_answers(client) if screening else []
    plans = selectors.client_plans_now(client, scores=clinical)
    # Clinical roles see every signature; the consent badges are read from the same rows.
    consent_history = selectors.client_consent_history(client=client) if clinical else None
    return render(
        request,
        "plans/clients/detail.html",
        {
            "client": client,
            "clinical": clinical,
            "screening": screening,
            "flags": [a for a in answers if a.answer],
            "plans": plans,
            "consents": selectors.client_consents(client=client, signed=consent_history),
            "consent_history": consent_history or [],
            "adverse_events": selectors.client_adverse_events(client) if clinical else [],
            "page_link": selectors.client_live_access(client),
        },
    )


@staff_required("plans.add_screening", "plans.view_clinical_record")
def screening_correct(request, client_id: int):
    """Correct the client's current screen: its answers pre-filled, a reason required; saved as a
    new dated screen (the service re-checks the client's plans against it), never an edit."""
    client = get_object_or_404(Client, pk=client_id)
    screening = selectors.client_current_screening(client)
    if screening is None:
        messages.error(request, "There is no screening to correct: record one with Edit / re-screen.")
        return redirect("client-detail", pk=client_id)
    form = ScreeningCorrectionForm(
        request.POST or None, screening=screening, current_answers=client_services.current_answers(client)
    )
    if request.method == "POST" and form.is_valid():
        corrected = screening
        if form.cleaned_data["corrects"] != screening.pk:
            # The page showed an older screen than the current one: correcting it would lose what came after.
            form.add_error(None, client_services.SUPERSEDED)
        else:
            try:
                corrected = client_services.screening_correct(
                    screening=screening,
                    answers=form.screening_answers(),
                    reason=form.cleaned_data["correction_reason"],
                    screened_by=request.user,
                )
            except ValidationError as error:
                form.apply_service_errors(error)
        if not form.errors:
            messages.success(
                request,
                f"Correction saved as a new screen dated {corrected.screened_on:%d %b %Y}; the earlier one is kept. "
                "Open plans were re-checked against it.",
            )
            return redirect("client-detail", pk=client_id)
    # A refused POST says so in its status too: 409 when someone else's screen came first, else 400.
    superseded = client_services.SUPERSEDED in form.non_field_errors()
    status = (409 if superseded else 400) if form.errors else 200
    return render(
        request,
        "plans/clients/screening_correct.html",
        {"form": form, "client": client, "screening": screening},
        status=status,
    )
