"""The Today page's reads: the day's appointments and the worklist of things nobody may forget.

Both are selectors with a fixed number of queries, whatever the data's size (the page polls
every 45 seconds on every tablet). Two extension points, each one place:

- OUTSTANDING: what still stands in the way of an appointment (a review not signed, sessions
  of the plan not booked...). One function per kind of item, reading the batch it is given.
- PROVIDERS: the worklist, one function per kind of item. A provider reads a bounded number
  of rows in a fixed number of queries and links each item to the one screen that resolves
  it; the item disappears when the underlying rows change (no "done" flag to keep in step).

Items marked clinical are never computed for a role without plans.view_clinical_record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet, Subquery, Window
from django.db.models.functions import RowNumber
from django.urls import reverse
from django.utils import timezone

from plans.models import (
    HOLDING_SEVERITIES,
    AdverseEvent,
    Message,
    MessageStatus,
    PlanSession,
    PlanStatus,
    PreSessionCheck,
    SessionKind,
    SessionStatus,
    TreatmentPlan,
    WaitlistEntry,
    WaitlistStatus,
)
from plans.outbox.kinds import label as kind_label
from plans.selectors import treatment_consent_in_force
from plans.services import booking

# A provider lists at most this many items (most urgent first) and says when there are more:
# the page stays one screen and its queries bounded when a backlog builds up.
ITEM_LIMIT = 25

CLINICAL_PERMISSION = "plans.view_clinical_record"
EXPIRED_REACH = dt.timedelta(days=60)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=booking.clinic_tz())


# --- The day's appointments -------------------------------------------------------------------


@dataclass(frozen=True)
class Outstanding:
    """Something still open about an appointment's plan, shown as a badge linking to its fix."""

    code: str  # stable, for CSS and tests: "review", "unbooked", ...
    text: str
    url: str
    clinical: bool = False


@dataclass
class Appointment:
    session: PlanSession  # with plan (status, snapshot, review), client, practitioner and room
    actions: list[str]
    outstanding: list[Outstanding] = field(default_factory=list)


@dataclass(frozen=True)
class PractitionerDay:
    name: str
    appointments: list[Appointment]


def _review_unsigned(appointments: list[Appointment]) -> None:
    # review_pending is kept by services/safety.py: set until a clinician signs off every item.
    for a in appointments:
        plan = a.session.plan
        if plan.review_pending:
            url = reverse("plan-detail", args=[plan.pk]) + "#review-signoffs"
            a.outstanding.append(Outstanding("review", "Review not signed", url, clinical=True))


def _on_hold(appointments: list[Appointment]) -> None:
    for a in appointments:
        plan = a.session.plan
        if plan.is_on_hold and a.session.status == SessionStatus.BOOKED:
            url = reverse("plan-detail", args=[plan.pk]) + "#clinical-hold"
            a.outstanding.append(Outstanding("hold", "Clinical hold", url, clinical=True))


def _check_valid_from(starts_at: dt.datetime) -> dt.datetime:
    """The oldest pre-session check that still counts at an appointment starting then (the
    same PRE_SESSION_CHECK_VALID_DAYS that starting and completing the session enforce)."""
    return starts_at - dt.timedelta(days=settings.PRE_SESSION_CHECK_VALID_DAYS)


def _needs_check(session: PlanSession) -> bool:
    return session.kind == SessionKind.MICRONEEDLING and session.status == SessionStatus.BOOKED


def _check_missing(appointments: list[Appointment]) -> None:
    # latest_check_at: the client's newest check, read with the day's sessions (_day_sessions).
    for a in appointments:
        if not _needs_check(a.session):
            continue
        recorded = a.session.latest_check_at
        if recorded is None or recorded < _check_valid_from(a.session.starts_at):
            url = f"{reverse('session-check', args=[a.session.pk])}?next={reverse('home')}"
            a.outstanding.append(Outstanding("check", "Pre-session check missing", url, clinical=True))


def _unbooked_sessions(appointments: list[Appointment]) -> None:
    # plan_unbooked: counted with the day's sessions (_day_sessions).
    for a in appointments:
        if n := a.session.plan_unbooked:
            text = f"{n} session{'' if n == 1 else 's'} to book"
            a.outstanding.append(Outstanding("unbooked", text, reverse("plan-book", args=[a.session.plan_id])))


def _consent_missing(appointments: list[Appointment]) -> None:
    """A microneedling appointment whose client has no treatment consent in force: sign it at check-in.
    Not clinical: front desk hands over the tablet (the text and signature stay on clinical pages)."""
    waiting = [
        a
        for a in appointments
        if a.session.kind == SessionKind.MICRONEEDLING and a.session.status == SessionStatus.BOOKED
    ]
    for a in waiting:
        client = a.session.plan.client
        if not a.session.consent_in_force:  # read with the day's sessions (_day_sessions)
            text = "Consent withdrawn" if client.treatment_consent_withdrawn_at else "Consent to sign"
            a.outstanding.append(Outstanding("consent", text, reverse("client-detail", args=[client.pk])))


def _adverse_event_hold(appointments: list[Appointment]) -> None:
    for a in appointments:
        plan = a.session.plan
        if plan.adverse_event_hold and a.session.kind == SessionKind.MICRONEEDLING:
            a.outstanding.append(
                Outstanding(
                    "adverse",
                    "Adverse event: a clinician must clear it",
                    reverse("client-detail", args=[plan.client_id]) + "#adverse-events",
                    clinical=True,
                )
            )


# What stands open about an appointment, one function per kind, each reading what _day_sessions
# annotated or the plan row (no query of its own: add an annotation there instead).
OUTSTANDING: list[Callable[[list[Appointment]], None]] = [
    _on_hold,
    _review_unsigned,
    _check_missing,
    _unbooked_sessions,
    _consent_missing,
    _adverse_event_hold,
]
# These name health matters: never computed for a role without the clinical record.
CLINICAL_OUTSTANDING = {_on_hold, _review_unsigned, _check_missing, _adverse_event_hold}


def _day_sessions(start: dt.datetime, end: dt.datetime, *, clinical: bool):
    """The day's sessions with what the outstanding checks need, in the same query: how many
    of the plan's sessions are still to book, whether the client's treatment consent is in force
    and (clinical roles only) the client's newest pre-session check."""
    unbooked = (
        PlanSession.objects.filter(plan_id=OuterRef("plan_id"), status=SessionStatus.PROPOSED)
        .exclude(kind=SessionKind.FOLLOW_UP)  # booked when its window opens: the worklist says when
        .order_by()
        .values("plan_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    sessions = (
        PlanSession.objects.filter(
            starts_at__gte=start,
            starts_at__lt=end,
            status__in=[SessionStatus.BOOKED, SessionStatus.COMPLETED, SessionStatus.NO_SHOW],
        )
        # The plan comes along for the label ("session k of n": its snapshot) and its review;
        # its other JSON columns are left out.
        .select_related("plan__client", "practitioner", "room")
        .defer("plan__rationale", "plan__warnings", "plan__selected_combinations")
        .annotate(
            plan_unbooked=Subquery(unbooked), consent_in_force=treatment_consent_in_force(OuterRef("plan__client_id"))
        )
        .order_by("practitioner__display_name", "practitioner_id", "starts_at")
    )
    if clinical:
        newest_check = (
            PreSessionCheck.objects.filter(client_id=OuterRef("plan__client_id"))
            .order_by("-recorded_at")
            .values("recorded_at")[:1]
        )
        sessions = sessions.annotate(latest_check_at=Subquery(newest_check))
    return sessions


def today_appointments(*, day: dt.date, clinical: bool, now: dt.datetime | None = None) -> list[PractitionerDay]:
    """The day's appointments (cancelled ones left to the worklist) per practitioner in time
    order, each with its allowed actions and what is outstanding: one query for the sessions
    and what _day_sessions annotates, whatever the number of appointments."""
    now = now or timezone.now()
    start = _midnight(day)
    sessions = list(_day_sessions(start, _midnight(day + dt.timedelta(days=1)), clinical=clinical))
    appointments = [Appointment(s, s.available_actions(now=now)) for s in sessions]
    for add in OUTSTANDING:
        if clinical or add not in CLINICAL_OUTSTANDING:
            add(appointments)
    if not clinical:
        for a in appointments:
            a.outstanding = [o for o in a.outstanding if not o.clinical]
    days: list[PractitionerDay] = []
    for a in appointments:
        name = a.session.practitioner.display_name if a.session.practitioner else "No practitioner"
        if not days or days[-1].name != name:
            days.append(PractitionerDay(name, []))
        days[-1].appointments.append(a)
    return days


# --- The worklist -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkItem:
    code: str  # the provider's code, for CSS and tests
    title: str  # who and what, e.g. "Ana Silva: Microneedling 2 of 4"
    detail: str  # why it is here
    url: str  # the one screen that resolves it
    action: str  # the link's text
    session_id: int | None = None  # a cancelled session: the page offers rebooking slots
    message_id: int | None = None  # a failed email: the page offers Resend


@dataclass(frozen=True)
class WorkGroup:
    code: str
    heading: str
    items: list[WorkItem]
    more: bool  # more than ITEM_LIMIT: the oldest are listed


@dataclass(frozen=True)
class Provider:
    """One kind of worklist item. Either `read` gives the items (a fixed number of queries), or,
    for items that are sessions, `choose` gives the sessions' query (ordered, most urgent first;
    `session_field` names the session's id in it) and `word` turns one loaded session into its
    item: every such provider's sessions are chosen in one UNION ALL and loaded in one query, so
    Today stays within the page budget however many kinds of session item there are."""

    code: str
    heading: str
    read: Callable[[dt.date, dt.datetime], tuple[list[WorkItem], bool]] | None = None
    clinical: bool = False
    choose: Callable[[dt.date, dt.datetime], QuerySet] | None = None
    word: Callable[[PlanSession, dt.date, dt.datetime], WorkItem] | None = None
    session_field: str = "pk"


def _bounded(queryset, limit: int | None = None) -> tuple[list, bool]:
    """The first `limit` (ITEM_LIMIT) rows, and whether there are more: one query (a full count
    would scan the backlog)."""
    limit = ITEM_LIMIT if limit is None else limit
    rows = list(queryset[: limit + 1])
    return rows[:limit], len(rows) > limit


def _session_rows():
    # The plan's JSON columns are not needed: items name a session by its title.
    return PlanSession.objects.select_related("plan__client", "practitioner").defer(
        "plan__protocol_snapshot",
        "plan__rationale",
        "plan__warnings",
        "plan__review_items",
        "plan__selected_combinations",
    )


def _chosen_sessions(providers: list[Provider], today: dt.date, now: dt.datetime) -> dict[str, tuple[list, bool]]:
    """Each session provider's sessions (at most ITEM_LIMIT, and whether there are more), chosen
    in one UNION ALL of every provider's own bounded query (each keeps its own filter, order and
    index) and loaded in one more query."""
    if not providers:
        return {}
    parts, params = [], []
    for i, provider in enumerate(providers):
        chosen = provider.choose(today, now)
        # The rank carries each part's order through the UNION ALL, which keeps none.
        ranked = chosen.annotate(rank=Window(RowNumber(), order_by=list(chosen.query.order_by)))
        sql, part_params = _compiled(ranked.values_list(provider.session_field, "rank")[: ITEM_LIMIT + 1])
        parts.append(f"SELECT {i} AS provider, part.* FROM ({sql}) AS part")  # noqa: S608 (our own SQL)
        params.extend(part_params)
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        picked = sorted(cursor.fetchall(), key=lambda row: (row[0], row[2]))
    # Loaded once, also where two providers chose the same session (moved by the client, and no
    # check for tomorrow). Queried by the waitlist's booking time too, which its items quote.
    loaded = _session_rows().annotate(
        taken_from_waitlist_at=Subquery(
            WaitlistEntry.objects.filter(session=OuterRef("pk"), status=WaitlistStatus.BOOKED)
            .order_by("-closed_at")
            .values("closed_at")[:1]
        )
    )
    sessions = loaded.in_bulk({session_id for _i, session_id, _rank in picked})
    found: dict[str, list] = {provider.code: [] for provider in providers}
    for i, session_id, _rank in picked:
        # A session gone between the two queries (erased) is left out, not shown half-loaded.
        if session_id in sessions:
            found[providers[i].code].append(sessions[session_id])
    return {code: (rows[:ITEM_LIMIT], len(rows) > ITEM_LIMIT) for code, rows in found.items()}


def _compiled(qs: QuerySet) -> tuple[str, tuple]:
    return qs.query.get_compiler(using=qs.db).as_sql()


def cancelled_not_rebooked(today: dt.date, now: dt.datetime) -> QuerySet:
    """Sessions cancelled (by the client or the clinic) or missed, of a plan still active: gone
    from the calendar, so only this list keeps them from being forgotten. Gone once rebooked."""
    return PlanSession.objects.filter(
        plan__status=PlanStatus.ACTIVE, status__in=[SessionStatus.CANCELLED, SessionStatus.NO_SHOW]
    ).order_by("latest", "id")  # the window closing first comes first


def _rebook_item(s: PlanSession, today: dt.date, now: dt.datetime) -> WorkItem:
    if s.status == SessionStatus.NO_SHOW:
        why = f"Missed on {timezone.localtime(s.starts_at):%a %d %b}" if s.starts_at else "Missed"
    else:
        who = "the client" if s.cancelled_by_client else "the clinic"
        why = f"Cancelled by {who}"
        if s.cancelled_at:
            why += f" on {timezone.localtime(s.cancelled_at):%a %d %b}"
    closes = "closed" if s.latest < today else "closes"
    why += f"; window {closes} {s.latest:%d %b}"
    return WorkItem(
        "rebook",
        f"{s.plan.client.full_name}: {s.title}",
        why,
        reverse("session-panel", args=[s.pk]),
        "Rebook",
        session_id=s.pk,
    )


# A plan has at most 12 microneedling sessions (Protocol.session_count) and, in practice, as many
# combination visits: the first (ITEM_LIMIT + 1) * this many visits to book hold the first
# ITEM_LIMIT + 1 plans. A plan with more visits still to book could only be listed later than its
# first window says, never left off its own pages. Larger costs the walk more: the visits of
# stopped and completed plans are walked past too (the first 95,000 at the benchmark's size).
VISITS_PER_PLAN_BOUND = 24


def plans_to_book(today: dt.date, now: dt.datetime) -> tuple[list[WorkItem], bool]:
    """Accepted plans with treatment sessions never booked (the follow-up has its own item),
    the one whose first unbooked window opens soonest first.

    A backlog of plans never booked is common (at the benchmark's size, 96,000), so the plans
    are not all grouped and sorted: the visits still to book are walked in window order on their
    partial index (session_to_book), and only the plans of the first few hundred are grouped.
    Ordered by (earliest, plan), that walk meets every plan of the first ITEM_LIMIT + 1 before it
    stops (VISITS_PER_PLAN_BOUND), so the items are the same as grouping every plan would give."""
    first_visits = PlanSession.objects.filter(
        status=SessionStatus.PROPOSED,
        kind__in=[SessionKind.MICRONEEDLING, SessionKind.COMBINATION],
        plan__status=PlanStatus.ACTIVE,
    ).order_by("earliest", "plan_id")[: (ITEM_LIMIT + 1) * VISITS_PER_PLAN_BOUND]
    plans, more = _bounded(
        TreatmentPlan.objects.filter(pk__in=first_visits.values("plan_id"))
        .select_related("client")
        .only("id", "client__id", "client__first_name", "client__last_name", "created_at")
        .annotate(
            unbooked=Count(
                "sessions",
                filter=Q(sessions__status=SessionStatus.PROPOSED) & ~Q(sessions__kind=SessionKind.FOLLOW_UP),
            ),
            # The walk's own order: the first treatment visit still to book, then the plan.
            first_earliest=Min(
                "sessions__earliest",
                filter=Q(
                    sessions__status=SessionStatus.PROPOSED,
                    sessions__kind__in=[SessionKind.MICRONEEDLING, SessionKind.COMBINATION],
                ),
            ),
        )
        .order_by("first_earliest", "id")
    )
    return [
        WorkItem(
            "book-plan",
            p.client.full_name,
            f"{p.unbooked} session{'' if p.unbooked == 1 else 's'} not booked; the first from {p.first_earliest:%d %b}",
            reverse("plan-book", args=[p.pk]),
            "Book",
        )
        for p in plans
    ], more


def emails_not_delivered(today: dt.date, now: dt.datetime) -> tuple[list[WorkItem], bool]:
    """Emails that failed, and those that expired before an appointment still to come (a
    reminder that went out too late is still worth resending). Gone once resent."""
    # An email for an appointment still to come was due at most this long ago (the longest lead
    # is a pre-care note weeks before): the bound keeps the read on the (status, send_at) index
    # instead of walking every email that ever expired.
    recent = now - EXPIRED_REACH
    rows, more = _bounded(
        Message.objects.filter(
            Q(status=MessageStatus.FAILED)
            | Q(
                status=MessageStatus.EXPIRED,
                send_at__gte=recent,
                session__status=SessionStatus.BOOKED,
                session__starts_at__gt=now,
            )
        )
        .select_related("client", "session__plan", "intake")  # a care note's label reads the plan's snapshot
        .order_by("send_at", "id")
    )
    return [
        WorkItem(
            "email",
            f"{m.recipient.full_name}: {kind_label(m)}",
            f"{m.get_status_display()}: {m.last_error or m.status_reason or 'not delivered'}",
            f"{reverse('messages')}?status={m.status}",
            "Resend",
            message_id=m.pk,
        )
        for m in rows
    ], more


def follow_ups_due(today: dt.date, now: dt.datetime) -> QuerySet:
    """Follow-up assessments whose window is open and that nobody has booked yet."""
    return PlanSession.objects.filter(
        plan__status=PlanStatus.ACTIVE,
        kind=SessionKind.FOLLOW_UP,
        status=SessionStatus.PROPOSED,
        earliest__lte=today,
        latest__gte=today,
    ).order_by("latest", "id")


def _follow_up_item(s: PlanSession, today: dt.date, now: dt.datetime) -> WorkItem:
    return WorkItem(
        "follow-up",
        f"{s.plan.client.full_name}: {s.title}",
        f"Due {s.target:%d %b}; window closes {s.latest:%d %b}",
        reverse("session-panel", args=[s.pk]),
        "Book",
        session_id=s.pk,
    )


def plans_blocked_clinically(today: dt.date, now: dt.datetime) -> tuple[list[WorkItem], bool]:
    """Active plans a clinician must act on: an open clinical hold, or review items not yet
    signed off. Both flags live on the plan row (kept by services/safety.py), so this reads
    the plans alone; gone once the hold is decided or the last item signed off."""
    plans, more = _bounded(
        TreatmentPlan.objects.filter(Q(hold_opened_at__isnull=False) | Q(review_pending=True), status=PlanStatus.ACTIVE)
        .select_related("client")
        .only("id", "hold_opened_at", "review_pending", "created_at", "client__first_name", "client__last_name")
        .order_by("created_at", "id")  # waiting longest first
    )
    items = []
    for p in plans:
        if p.is_on_hold:
            detail = f"On clinical hold since {timezone.localtime(p.hold_opened_at):%a %d %b}: a clinician decides"
            anchor, action = "#clinical-hold", "Decide"
        else:
            detail, anchor, action = "Review items wait for a clinician's sign-off", "#review-signoffs", "Sign off"
        items.append(
            WorkItem("blocked", p.client.full_name, detail, reverse("plan-detail", args=[p.pk]) + anchor, action)
        )
    return items, more


def checks_missing_tomorrow(today: dt.date, now: dt.datetime) -> QuerySet:
    """Tomorrow's microneedling appointments (clinic day) whose client has no pre-session check
    that will still count then: ask at the reminder call, or at check-in. Gone once recorded."""
    tomorrow = today + dt.timedelta(days=1)
    current = PreSessionCheck.objects.filter(
        client_id=OuterRef("plan__client_id"),
        recorded_at__gte=OuterRef("starts_at") - dt.timedelta(days=settings.PRE_SESSION_CHECK_VALID_DAYS),
    )
    return (
        PlanSession.objects.filter(
            starts_at__gte=_midnight(tomorrow),
            starts_at__lt=_midnight(tomorrow + dt.timedelta(days=1)),
            status=SessionStatus.BOOKED,
            kind=SessionKind.MICRONEEDLING,
            plan__status=PlanStatus.ACTIVE,
        )
        .filter(~Exists(current))
        .order_by("starts_at", "id")
    )


def _check_item(s: PlanSession, today: dt.date, now: dt.datetime) -> WorkItem:
    return WorkItem(
        "check",
        f"{s.plan.client.full_name}: {s.title}",
        f"Tomorrow {timezone.localtime(s.starts_at):%H:%M}"
        + (f" with {s.practitioner.display_name}" if s.practitioner else "")
        + "; no pre-session check yet",
        f"{reverse('session-check', args=[s.pk])}?next={reverse('home')}",
        "Record check",
        session_id=s.pk,
    )


def adverse_events_open(today: dt.date, now: dt.datetime) -> tuple[list[WorkItem], bool]:
    """Adverse events holding a plan until a clinician clears them, and unresolved ones whose follow-up is due."""
    rows, more = _bounded(
        AdverseEvent.objects.filter(
            Q(severity__in=HOLDING_SEVERITIES, cleared_at__isnull=True)
            | Q(resolved_on__isnull=True, follow_up_on__lte=today)
        )
        .select_related("client")
        .order_by("onset_on", "id")
    )
    return [
        WorkItem(
            "adverse",
            f"{e.client.full_name}: {e}",
            "Holds further microneedling: a clinician must clear it"
            if e.holds_plan
            else f"Follow-up due {e.follow_up_on:%d %b}, not resolved",
            reverse("adverse-event", args=[e.pk]),
            "Open",
        )
        for e in rows
    ], more


# A move the client made on their own page stays on the worklist this long (or until the visit).
MOVED_BY_CLIENT_REACH = dt.timedelta(days=3)


def moved_by_client(today: dt.date, now: dt.datetime) -> QuerySet:
    """Upcoming sessions the client moved on their own page in the last days: staff see what
    clients did without asking (the practitioner's day changed)."""
    return PlanSession.objects.filter(
        status=SessionStatus.BOOKED,
        starts_at__gt=now,
        moved_by_client_at__gte=now - MOVED_BY_CLIENT_REACH,
    ).order_by("-moved_by_client_at", "id")


def _moved_item(s: PlanSession, today: dt.date, now: dt.datetime) -> WorkItem:
    return _client_move("moved-by-client", s, "Moved by the client", s.moved_by_client_at)


def _client_move(code: str, s: PlanSession, how: str, when: dt.datetime) -> WorkItem:
    """A move the client made themselves (on their page, or by taking a waitlist offer)."""
    return WorkItem(
        code,
        f"{s.plan.client.full_name}: {s.title}",
        f"{how} on {timezone.localtime(when):%a %d %b %H:%M}; "
        f"now {timezone.localtime(s.starts_at):%a %d %b %H:%M} with {s.practitioner}",
        reverse("session-panel", args=[s.pk]),
        "Open",
        session_id=s.pk,
    )


def waitlist_slots_taken(today: dt.date, now: dt.datetime) -> QuerySet:
    """Upcoming sessions a waitlisted client moved to an earlier, freed slot in the last days:
    what clients did from the waitlist, so the practitioner's day holds no surprise."""
    return WaitlistEntry.objects.filter(
        status=WaitlistStatus.BOOKED,
        closed_at__gte=now - MOVED_BY_CLIENT_REACH,
        session__status=SessionStatus.BOOKED,
        session__starts_at__gt=now,
    ).order_by("-closed_at", "id")


def _waitlist_item(s: PlanSession, today: dt.date, now: dt.datetime) -> WorkItem:
    return _client_move("waitlist-taken", s, "Took a freed slot from the waitlist", s.taken_from_waitlist_at)


def intake_to_review(today: dt.date, now: dt.datetime) -> tuple[list[WorkItem], bool]:
    """New people's forms that came back and nobody has reviewed: those needing a call first.
    Names and status only (front desk reads it too); the answers are on the review page."""
    from plans.models import IntakeInvitation

    rows, more = _bounded(
        IntakeInvitation.objects.filter(submitted_at__isnull=False, reviewed_at__isnull=True)
        .defer("answers")
        .order_by("-needs_call", "submitted_at", "id")
    )
    return [
        WorkItem(
            "intake",
            i.full_name,
            f"{i.status_label(now=now)} on {timezone.localtime(i.submitted_at):%a %d %b %H:%M}",
            reverse("intake-list"),
            "Open",
        )
        for i in rows
    ], more


# The worklist, in the order shown. Clinical providers are never computed for a role without
# the clinical record (front desk): their items name health matters.
PROVIDERS: list[Provider] = [
    Provider("blocked", "Plans blocked for clinical review", plans_blocked_clinically, clinical=True),
    Provider(
        "check",
        "Pre-session checks missing for tomorrow",
        clinical=True,
        choose=checks_missing_tomorrow,
        word=_check_item,
    ),
    Provider("adverse", "Adverse events to clear or follow up", adverse_events_open, clinical=True),
    Provider("intake", "New-client forms to review", intake_to_review),
    Provider("rebook", "Cancelled, not rebooked", choose=cancelled_not_rebooked, word=_rebook_item),
    Provider("moved-by-client", "Moved by the client", choose=moved_by_client, word=_moved_item),
    Provider(
        "waitlist-taken",
        "Waitlist: slots taken",
        choose=waitlist_slots_taken,
        word=_waitlist_item,
        session_field="session_id",
    ),
    Provider("follow-up", "Follow-up assessments due", choose=follow_ups_due, word=_follow_up_item),
    Provider("book-plan", "Plans with sessions to book", plans_to_book),
    Provider("email", "Emails not delivered", emails_not_delivered),
]


def worklist(
    *, clinical: bool, now: dt.datetime | None = None, providers: Iterable[Provider] | None = None
) -> list[WorkGroup]:
    """Every provider's items the role may see; groups with nothing to do are left out."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    wanted = [p for p in (PROVIDERS if providers is None else providers) if clinical or not p.clinical]
    chosen = _chosen_sessions([p for p in wanted if p.choose], today, now)
    groups = []
    for provider in wanted:
        if provider.choose:
            sessions, more = chosen[provider.code]
            items = [provider.word(s, today, now) for s in sessions]
        else:
            items, more = provider.read(today, now)
        if items:
            groups.append(WorkGroup(provider.code, provider.heading, items, more))
    return groups
