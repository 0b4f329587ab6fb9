"""The booking calendar, the front desk's day list, session actions, plan booking and iCalendar feeds.

Views parse input with forms and call plans.services.booking; the rules live there.
Calendar JSON uses clinic-local wall-clock times without an offset ("floating"), so the
browser's own zone never shifts an appointment.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from urllib.parse import quote

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from plans import ics, rebooking, selectors
from plans.forms.booking import (
    CancelForm,
    PreferencesForm,
    ProposalForm,
    RescheduleForm,
    SlotForm,
    proposal_json,
)
from plans.forms.fields import date_range, parse_date_param, parse_id_param
from plans.forms.outcomes import ScoreForm
from plans.forms.records import CompleteForm
from plans.models import (
    ConsentKind,
    PlanSession,
    Practitioner,
    Room,
    SessionKind,
    TreatmentPlan,
)
from plans.permissions import public_rate_limited, staff_required
from plans.services import booking, outcomes
from plans.services import safety as safety_services

KIND_COLOURS = {
    SessionKind.MICRONEEDLING: "#2f6f8f",
    SessionKind.COMBINATION: "#9a5b1e",
    SessionKind.FOLLOW_UP: "#4f7f3a",
}


def wall(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M:%S")


def wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _bad_request(request, exc: ValidationError):
    """A GET parameter the app does not accept (plans.forms.fields): 400 with the reason."""
    message = " ".join(exc.messages)
    if wants_json(request) or request.path.endswith(".json"):
        return JsonResponse({"error": message, "code": "bad_parameter"}, status=400)
    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")


def _back(request, fallback: str):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect(fallback)


def _session(pk: int) -> PlanSession:
    try:
        return selectors.session_for_panel(pk=pk)
    except PlanSession.DoesNotExist as exc:
        raise Http404("No such appointment.") from exc


def _form_error(form) -> str:
    return " ".join(
        f"{'' if f == '__all__' else form.fields[f].label or f}: {' '.join(e)}".strip(": ")
        for f, e in form.errors.items()
    )


# --- Calendar ------------------------------------------------------------------------------


@staff_required("plans.view_plansession")
def calendar_page(request):
    try:
        day = parse_date_param(request.GET.get("date"))
        practitioner_id = parse_id_param(request.GET.get("practitioner"))
    except ValidationError as exc:
        return _bad_request(request, exc)
    mode = "rooms" if request.GET.get("mode") == "rooms" else "practitioners"
    view = "resourceTimeGridDay" if request.GET.get("view") == "day" else "resourceTimeGridWeek"
    practitioners = list(Practitioner.objects.filter(active=True))
    if practitioner_id is not None and not any(p.id == practitioner_id for p in practitioners):
        practitioner_id = None
    mine = getattr(request.user, "practitioner", None)
    if mode == "rooms":
        resources = [{"id": r.id, "title": r.name} for r in Room.objects.filter(active=True)]
    else:
        # One practitioner's column only when filtered ("my day"): their appointments, their hours.
        resources = [
            {"id": p.id, "title": p.display_name, "eventBackgroundColor": p.color}
            for p in practitioners
            if practitioner_id is None or p.id == practitioner_id
        ]
    offset = timezone.localtime().strftime("%z")
    config = {
        "date": day.isoformat(),
        "view": view,
        "mode": mode,
        "resources": resources,
        "timeZone": f"{offset[:3]}:{offset[3:]}",
        "eventsUrl": reverse("calendar-events"),
        "closedUrl": reverse("calendar-closed"),
        "bookableUrl": reverse("calendar-bookable"),
        "sessionUrl": reverse("session-panel", args=[0]),
        "bookUrl": reverse("session-book", args=[0]),
        "rescheduleUrl": reverse("session-reschedule", args=[0]),
        "practitioner": practitioner_id,
    }
    return render(
        request,
        "plans/calendar/calendar.html",
        {
            "config": config,
            "day": day,
            "mode": mode,
            "practitioners": practitioners,
            "practitioner_id": practitioner_id,
            "my_practitioner": mine if mine is not None and mine.active else None,
        },
    )


def _range(request) -> tuple[dt.date, dt.date]:
    """The clinic-local dates [start, end) the calendar asks for; ValidationError if unreadable or too long."""
    first = parse_date_param(request.GET.get("start"))
    last = parse_date_param(request.GET.get("end"), default=first + dt.timedelta(days=1))
    if last <= first:
        last = first + dt.timedelta(days=1)
    if (last - first).days > 62:
        raise ValidationError("Ask for at most two months at a time.")
    return first, last


def _event(row: dict, session: PlanSession, *, rooms: bool, now: dt.datetime) -> dict:
    client = f"{row['plan__client__first_name']} {row['plan__client__last_name']}".strip()
    actions = session.available_actions(now=now)
    return {
        "id": str(row["id"]),
        "resourceIds": [row["room_id"] if rooms else row["practitioner_id"]],
        "start": wall(row["starts_at"]),
        "end": wall(row["ends_at"]),
        "title": f"{client} · {session.label}",
        "backgroundColor": KIND_COLOURS.get(row["kind"], "#555"),
        "classNames": [f"status-{row['status']}", f"kind-{row['kind']}"],
        # Dragging moves it: only what the model lets be moved, and only before it begins.
        "editable": session.can("reschedule", now=now) and session.is_upcoming(now=now),
        "extendedProps": {
            "client": client,
            "label": session.label,
            "status": session.status_label,
            "statusCode": row["status"],
            "kind": session.get_kind_display(),
            "actions": actions,
            "practitioner": row["practitioner__display_name"] or "",
            "practitionerId": row["practitioner_id"],
            "roomId": row["room_id"],
            "room": row["room__name"] or "",
        },
    }


@staff_required("plans.view_plansession")
@require_GET
def calendar_events(request):
    """Appointments between `start` and `end` (clinic-local dates) as calendar events: three queries."""
    try:
        first, last = _range(request)
        practitioner_id = parse_id_param(request.GET.get("practitioner"))
    except ValidationError as exc:
        return _bad_request(request, exc)
    found = selectors.calendar_sessions(
        first=first, last=last, cancelled=bool(request.GET.get("cancelled")), practitioner_id=practitioner_id
    )
    rooms, now = request.GET.get("mode") == "rooms", timezone.now()
    events = [_event(row, found.session(row), rooms=rooms, now=now) for row in found.rows]
    return JsonResponse(events, safe=False)


@staff_required("plans.view_plansession")
@require_GET
def calendar_closed(request):
    """Time nobody can book (hours not worked, time off, closures) as background events, so the
    calendar shades it instead of refusing a booking after the click."""
    try:
        first, last = _range(request)
    except ValidationError as exc:
        return _bad_request(request, exc)
    rooms = request.GET.get("mode") == "rooms"
    everyone = (
        [r.id for r in Room.objects.filter(active=True)]
        if rooms
        else [p.id for p in Practitioner.objects.filter(active=True)]
    )
    wanted = "r" if rooms else "p"
    events = []
    for closed in selectors.closed_time(first=first, last=last):
        if closed.resource == "*":
            ids = everyone
        elif closed.resource[0] == wanted:
            ids = [int(closed.resource[1:])]
        else:
            continue
        events.append(
            {
                "resourceIds": ids,
                "start": wall(closed.span.start),
                "end": wall(closed.span.end),
                "display": "background",
                "editable": False,
                "title": closed.reason,
                "classNames": ["closed", f"closed-{closed.kind}"],
            }
        )
    return JsonResponse(events, safe=False)


@staff_required("plans.book_sessions")
@require_GET
def calendar_bookable(request):
    """Sessions to offer in the "book here" dialog for a day (and the clicked practitioner),
    or those matching `q`: at most selectors.BOOK_HERE_LIMIT rows, in one query."""
    try:
        day = parse_date_param(request.GET.get("date"))
        practitioner_id = parse_id_param(request.GET.get("practitioner"))
    except ValidationError as exc:
        return _bad_request(request, exc)
    text = request.GET.get("q", "")[:100]
    rows = selectors.bookable_here(day=day, practitioner_id=practitioner_id, text=text)
    return JsonResponse(rows, safe=False)


@staff_required("plans.view_plansession")
def day_list(request):
    """The front desk's list of the day's appointments: one query, server-rendered."""
    try:
        day = parse_date_param(request.GET.get("date"))
    except ValidationError as exc:
        return _bad_request(request, exc)
    first, last = date_range()
    return render(
        request,
        "plans/calendar/day_list.html",
        {
            "day": day,
            "sessions": selectors.day_sessions(day=day),
            "previous": day - dt.timedelta(days=1) if day > first else None,
            "next": day + dt.timedelta(days=1) if day < last else None,
        },
    )


# --- One session -----------------------------------------------------------------------------


@staff_required("plans.view_plansession")
def session_panel(request, pk: int):
    """Details and actions of one appointment: a fragment for the calendar's dialog, or a page."""
    session = _session(pk)
    template = "plans/calendar/session_panel.html" if request.htmx or request.GET.get("fragment") else None
    context = {
        "session": session,
        "cancel_form": CancelForm(),
        "complete_form": CompleteForm(session=session, today=timezone.localdate()),
        "move_form": RescheduleForm(
            initial={
                "starts_at": wall(session.starts_at)[:16] if session.starts_at else "",
                "practitioner": session.practitioner_id,
                "room": session.room_id,
            }
        ),
        "actions": session.available_actions(),
        "consent": selectors.consent_status(client=session.plan.client, kind=ConsentKind.TREATMENT)
        if session.kind == SessionKind.MICRONEEDLING
        else None,
        **safety_services.session_safety(session, clinical=request.user.has_perm("plans.view_clinical_record")),
    }
    return render(request, template or "plans/calendar/session_page.html", context)


@staff_required("plans.book_sessions")
@require_GET
def session_rebook(request, pk: int):
    """The nearest free slots for a cancelled or missed session, each booked in one tap through
    session_book (a fragment for the Today worklist and the session panel)."""
    session = _session(pk)
    back = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, require_https=request.is_secure()):
        back = reverse("session-panel", args=[pk])
    return render(
        request,
        "plans/calendar/_rebook.html",
        {"session": session, "offers": rebooking.rebook_offers(session=session), "next": back},
    )


def _result(
    request, session: PlanSession, *, ok: str = "", error: str = "", code: str = "", status: int = 200, extra=None
):
    """The answer to an action: JSON for the calendar (a failure carries `error` and a
    machine-readable `code`, which the script decides by), else a message and a redirect."""
    if wants_json(request):
        body = {"ok": not error, "message": ok or error, **(extra or {})}
        if error:
            body |= {"error": error, "code": code or ("invalid" if status == 400 else "refused")}
        return JsonResponse(body, status=status)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, ok)
    return _back(request, reverse("session-panel", args=[session.pk]))


def _error_status(exc: Exception) -> int:
    # 409: the request was fine but lost to someone else's write; asking again may work.
    lost = booking.SlotTaken | booking.BookingBusy | booking.CascadeRequired | booking.AlreadyDone
    return 409 if isinstance(exc, lost) else 400


def _refused(request, session: PlanSession, exc: booking.BookingError):
    return _result(request, session, error=str(exc), code=exc.code, status=_error_status(exc))


@staff_required("plans.book_sessions")
@require_POST
def session_book(request, pk: int):
    session = _session(pk)
    form = SlotForm(request.POST)
    if not form.is_valid():
        return _result(request, session, error=_form_error(form), status=400)
    try:
        session = booking.session_book(
            session=session,
            starts_at=form.cleaned_data["starts_at"],
            practitioner=form.cleaned_data["practitioner"],
            room=form.cleaned_data["room"],
            override_reason=form.cleaned_data["override_reason"],
            by=request.user,
        )
    except booking.BookingError as exc:
        return _refused(request, session, exc)
    when = timezone.localtime(session.starts_at)
    return _result(request, session, ok=f"Booked {session.title} for {session.plan.client} on {when:%a %d %b %H:%M}.")


def _shift_json(shift) -> dict:
    tz = booking.clinic_tz()
    return {
        "session": shift.session_key,
        "label": shift.label,
        "from": f"{shift.old_start.astimezone(tz):%a %d %b %Y %H:%M}",
        "to": f"{shift.new_slot.start.astimezone(tz):%a %d %b %Y %H:%M}" if shift.new_slot else None,
        "start": shift.new_slot.start.isoformat() if shift.new_slot else None,
        "reason": shift.reason,
        "outsideWindow": shift.outside_window,
    }


@staff_required("plans.book_sessions")
@require_POST
def session_reschedule(request, pk: int):
    session = _session(pk)
    form = RescheduleForm(request.POST)
    if not form.is_valid():
        return _result(request, session, error=_form_error(form), status=400)
    try:
        moved = booking.session_reschedule(
            session=session,
            starts_at=form.cleaned_data["starts_at"],
            practitioner=form.cleaned_data["practitioner"],
            room=form.cleaned_data["room"],
            cascade=form.cleaned_data["cascade"],
            override_reason=form.cleaned_data["override_reason"],
            by=request.user,
        )
    except booking.CascadeRequired as exc:
        shifts = [_shift_json(s) for s in exc.shifts]
        if not wants_json(request):
            return render(
                request,
                "plans/calendar/confirm_cascade.html",
                {
                    "session": session,
                    "form": form,
                    "shifts": shifts,
                    "cascade": json.dumps(shifts),
                    "message": str(exc),
                },
                status=409,
            )
        return _result(request, session, error=str(exc), code=exc.code, status=409, extra={"cascade": shifts})
    except booking.BookingError as exc:
        return _refused(request, session, exc)
    when = timezone.localtime(moved[0].starts_at)
    text = f"Moved {moved[0].title} to {when:%a %d %b %H:%M}."
    if len(moved) > 1:
        text += f" Also moved {len(moved) - 1} later session(s) to keep the intervals."
    # How many moved: the calendar offers Undo only when it was this one alone.
    return _result(request, session, ok=text, extra={"moved": len(moved)})


@staff_required("plans.book_sessions")
@require_POST
def session_cancel(request, pk: int):
    session = _session(pk)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _result(request, session, error=_form_error(form), status=400)
    try:
        booking.session_cancel(
            session=session,
            by_client=form.cleaned_data["by_client"],
            reason=form.cleaned_data["reason"],
            by=request.user,
        )
    except booking.BookingError as exc:
        return _refused(request, session, exc)
    return _result(request, session, ok=f"Cancelled {session.title} for {session.plan.client}.")


@staff_required("plans.book_sessions")
@require_POST
def session_no_show(request, pk: int):
    session = _session(pk)
    try:
        booking.session_mark_no_show(session=session, by=request.user)
    except booking.BookingError as exc:
        return _refused(request, session, exc)
    return _result(request, session, ok=f"Marked {session.plan.client} as a no-show for {session.title}.")


def _check_form_url(request, session: PlanSession) -> str:
    """The pre-session check form when this visit still needs one and the user may record it
    (its answers are health data: never front desk); "" otherwise."""
    user = request.user
    if not (user.has_perm("plans.add_presessioncheck") and user.has_perm("plans.view_clinical_record")):
        return ""
    if safety_services.check_refusal(session) or safety_services.current_check(client=session.plan.client):
        return ""
    back = request.POST.get("next", "")
    safe = back and url_has_allowed_host_and_scheme(back, {request.get_host()}, require_https=request.is_secure())
    query = f"?next={quote(back, safe='/')}" if safe else ""
    return reverse("session-check", args=[session.pk]) + query


@staff_required("plans.book_sessions")
@require_POST
def session_check_in(request, pk: int):
    """One tap when the client arrives. A microneedling client without a current pre-session
    check is taken straight to its form (JSON carries the form's address as `next`)."""
    session = _session(pk)
    try:
        session = booking.session_check_in(session=session, by=request.user)
    except booking.BookingError as exc:
        return _refused(request, session, exc)
    ok = f"Checked in {session.plan.client} for {session.title}."
    if check_url := _check_form_url(request, session):
        ok += " Record the pre-session check before starting."
        if not wants_json(request):
            messages.success(request, ok)
            return redirect(check_url)
    return _result(request, session, ok=ok, extra={"next": check_url} if check_url else None)


@staff_required("plans.book_sessions", "plans.view_clinical_record")
@require_POST
def session_start(request, pk: int):
    session = _session(pk)
    try:
        session = booking.session_start(session=session, by=request.user)
    except booking.BookingError as exc:
        check_url = _check_form_url(request, session) if exc.code == "needs_pre_session_check" else ""
        if check_url and not wants_json(request):
            messages.error(request, str(exc))
            return redirect(check_url)
        return _result(
            request,
            session,
            error=str(exc),
            code=exc.code,
            status=_error_status(exc),
            extra={"next": check_url} if check_url else None,
        )
    return _result(request, session, ok=f"{session.plan.client} is in treatment: {session.title}.")


@staff_required("plans.book_sessions", "plans.view_clinical_record")
@require_POST
def session_complete(request, pk: int):
    """Complete a session; for microneedling this is signing off its treatment record (the
    record page posts here too, and shows the form again when it is refused)."""
    session = _session(pk)
    form = CompleteForm(request.POST, session=session, today=timezone.localdate())
    # The record page of session 1 and of the follow-up rates the outcome with the sign-off
    # (optional there): both are stored, or, if either is refused, neither.
    score_form = (
        ScoreForm(request.POST, moment=session.score_moment, anchors=selectors.pore_grade_anchors(), required=False)
        if session.score_moment and request.POST.get("from_record")
        else None
    )
    rating = score_form is not None and not score_form.is_blank
    error, code, status = "", "", 200
    if not form.is_valid():
        error, code, status = _form_error(form), "invalid", 400
    elif rating and not score_form.is_valid():
        error, code, status = _form_error(score_form), "invalid", 400
    else:
        try:
            # Only a rating needs the outer transaction: without one, session_complete keeps its
            # own, which it retries on a deadlock.
            with transaction.atomic() if rating else contextlib.nullcontext():
                booking.session_complete(session=session, by=request.user, **form.service_kwargs())
                if rating:
                    outcomes.score_record(
                        plan=session.plan, session=session, rated_by=request.user, **score_form.service_kwargs()
                    )
        except booking.BookingError as exc:
            error, code, status = str(exc), exc.code, _error_status(exc)
        except ValidationError as exc:
            forbidden = getattr(exc, "code", "") == "forbidden"
            error, code, status = (
                " ".join(exc.messages),
                "forbidden" if forbidden else "invalid",
                403 if forbidden else 400,
            )
    if error and request.POST.get("from_record") and not wants_json(request):
        from plans.views.records import record_page

        messages.error(request, error)
        return record_page(request, session, form, score_form=score_form, status=status)
    if error:
        return _result(request, session, error=error, code=code, status=status)
    return _result(request, session, ok=f"Completed {session.title} for {session.plan.client}.")


# --- Booking a whole plan ------------------------------------------------------------------------


@staff_required("plans.book_sessions")
def plan_book(request, pk: int):
    try:
        plan, sessions = selectors.plan_for_booking(pk=pk)
    except TreatmentPlan.DoesNotExist as exc:
        raise Http404("No such plan.") from exc
    context = {"plan": plan, "sessions": sessions, "form": PreferencesForm(request.GET or None)}
    if request.method == "POST" and request.POST.get("action") == "book":
        form = ProposalForm(request.POST)
        if not form.is_valid():
            messages.error(request, _form_error(form))
            return redirect("plan-book", pk=plan.pk)
        try:
            booked = booking.series_book(plan=plan, proposal=form.cleaned_data["proposal"], by=request.user)
        except booking.BookingError as exc:
            messages.error(request, f"Nothing was booked: {exc} Make a new proposal.")
            return redirect("plan-book", pk=plan.pk)
        messages.success(request, f"Booked {len(booked)} session(s) for {plan.client}.")
        first = timezone.localdate(booked[0].starts_at)
        return redirect(f"{reverse('calendar')}?date={first.isoformat()}")
    form = context["form"]
    if request.GET.get("propose") and form.is_valid():
        try:
            proposal = booking.series_propose(plan=plan, preferences=form.preferences())
        except booking.BookingError as exc:
            messages.error(request, str(exc))
        else:
            context["proposal"] = proposal
            context["rows"], context["nearest"] = selectors.proposal_rows(proposal)
            context["proposal_form"] = ProposalForm(initial={"proposal": proposal_json(proposal.result.bookings)})
    return render(request, "plans/calendar/plan_book.html", context)


# --- iCalendar feeds ------------------------------------------------------------------------------


@staff_required()
def feed_settings(request):
    practitioner = getattr(request.user, "practitioner", None)
    if practitioner is None:
        return render(request, "plans/calendar/feed.html", {"practitioner": None})
    if request.method == "POST":
        booking.practitioner_feed_regenerate(practitioner=practitioner, by=request.user)
        messages.success(request, "New feed address made; the old one no longer works.")
        return redirect("calendar-feed")
    url = request.build_absolute_uri(reverse("practitioner-feed", args=[practitioner.feed_token]))
    return render(request, "plans/calendar/feed.html", {"practitioner": practitioner, "feed_url": url})


@public_rate_limited
@require_GET
def practitioner_feed(request, token: str):
    """The practitioner's appointments as iCalendar: the secret token is the only key."""
    practitioner = Practitioner.objects.filter(feed_token=token, active=True).first()
    if practitioner is None:
        raise Http404("No such feed.")
    sessions = selectors.feed_sessions(practitioner=practitioner)
    response = HttpResponse(ics.practitioner_feed(practitioner, sessions), content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response
