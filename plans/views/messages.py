"""Staff views of the email outbox: the timeline on a client page, the failed/pending list, Resend."""

from django.contrib import messages as flash
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from plans.models import Client, DeliveryAttempt, IllegalMessageTransition, Message, MessageStatus
from plans.outbox import kinds
from plans.outbox.kinds import FAMILIES
from plans.pagination import CappedPaginator
from plans.permissions import staff_required
from plans.services import messages as message_services


def _with_attempts(queryset):
    # session__plan: the staff label of a care note names its subject from the plan's snapshot.
    return queryset.select_related("client", "session__plan", "intake").prefetch_related(
        Prefetch("delivery_attempts", queryset=DeliveryAttempt.objects.order_by("attempted_at", "id"))
    )


@staff_required("plans.view_message")
def client_messages(request, client_id: int):
    """The message timeline partial for a client page (htmx-loadable)."""
    client = get_object_or_404(Client, pk=client_id)
    messages_list = _with_attempts(Message.objects.filter(client=client).order_by("-send_at", "-id"))
    return render(request, "plans/messages/_timeline.html", {"client": client, "messages_list": messages_list})


@staff_required("plans.view_message")
def message_list(request):
    """Failed and pending messages (by default), filterable by status and kind."""
    status = request.GET.get("status", "")
    family = request.GET.get("kind", "")
    queryset = Message.objects.all()
    if status in MessageStatus.values:
        queryset = queryset.filter(status=status)
    else:
        status = ""
        queryset = queryset.filter(status__in=[MessageStatus.FAILED, MessageStatus.PENDING, MessageStatus.SENDING])
    if family in FAMILIES:
        queryset = queryset.filter(kind__startswith=family)
    else:
        family = ""
    page = CappedPaginator(_with_attempts(queryset.order_by("status", "send_at", "id")), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "plans/messages/list.html",
        {
            "page": page,
            "messages_list": page.object_list,
            "status": status,
            "kind": family,
            "statuses": MessageStatus.choices,
            "families": [(f.name, f.title) for f in FAMILIES.values()],
            "show_client": True,
        },
    )


@staff_required("plans.change_message")
@require_POST
def message_resend(request, message_id: int):
    message = get_object_or_404(Message, pk=message_id)
    try:
        message_services.message_resend(message=message, by=request.user)
    except IllegalMessageTransition as exc:
        flash.error(request, str(exc))
    else:
        flash.success(request, f"{kinds.label(message)} to {message.recipient}: it will be sent within a minute.")
    if request.htmx and message.client_id:
        return client_messages(request, message.client_id)
    next_url = request.POST.get("next", "")
    # Only a path on this site: redirect() would read any other text as a URL pattern name and crash.
    if not next_url.startswith("/") or not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}
    ):
        return redirect("messages")
    return redirect(next_url)
