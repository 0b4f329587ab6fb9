"""The staff waitlist: who asked for an earlier slot, the offers out, and "remove". A booking
page (plans.book_sessions): front desk manage it, so it shows no clinical data."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from plans.permissions import staff_required
from plans.selectors import waitlist_live
from plans.services import waitlist as services


@staff_required("plans.book_sessions")
def waitlist_page(request):
    entries, more = waitlist_live()
    return render(request, "plans/waitlist.html", {"entries": entries, "more": more})


@staff_required("plans.book_sessions")
@require_POST
def waitlist_remove(request, entry_id: int):
    entry = services.waitlist_remove(entry_id=entry_id, by=request.user)
    if entry is None:
        messages.info(request, "That entry had already left the waitlist.")
    else:
        messages.success(request, f"{entry.session.plan.client.full_name} is off the waitlist.")
    return redirect("waitlist")
