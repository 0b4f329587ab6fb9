"""Non-trivial reads for pages: each runs a fixed number of queries, whatever the data's size.

Views parse input and call these; writes live in plans/services/. Two sections: client and
plan pages (`client_*`, `plan_*`), and the calendar and booking pages.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    Exists,
    F,
    Func,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Abs, Coalesce, Lower
from django.utils import timezone

from plans import planning, scheduling
from plans.models import (
    BOOKABLE_STATUSES,
    OCCUPYING_STATUSES,
    AdverseEvent,
    Client,
    ClientAccess,
    ConsentKind,
    Device,
    Gais,
    Lot,
    LotKind,
    Message,
    MessageKind,
    MessageStatus,
    OutcomeScore,
    Photo,
    PhotoView,
    PlanSession,
    PlanStatus,
    Practitioner,
    RecordAddendum,
    Room,
    ScoreMoment,
    Screening,
    ScreeningAnswer,
    SessionKind,
    SessionStatus,
    SignedConsent,
    TreatmentPlan,
    TreatmentRecord,
)
from plans.services import booking

# --- Consent ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentStatus:
    """Where a client stands with one consent form: what every role may see (no text, no signature)."""

    kind: str
    state: str  # "current", "withdrawn" or "missing"
    consent: SignedConsent | None  # the newest signature, withdrawn or not

    @property
    def state_label(self) -> str:
        return {"current": "On file", "withdrawn": "Withdrawn", "missing": "Needed"}[self.state]

    @property
    def label(self) -> str:
        name = ConsentKind(self.kind).label
        if self.state == "current":
            return f"{name} on file (signed {timezone.localtime(self.consent.signed_at):%d %b %Y})"
        if self.state == "withdrawn":
            return f"{name} withdrawn on {timezone.localtime(self.consent.withdrawal.withdrawn_at):%d %b %Y}"
        return f"{name} not signed yet"


def consent_status(*, client: Client, kind: str) -> ConsentStatus:
    newest = SignedConsent.objects.newest(client_id=client.pk, kind=kind)
    if newest is None:
        return ConsentStatus(kind, "missing", None)
    return ConsentStatus(kind, "withdrawn" if newest.is_withdrawn else "current", newest)


def client_consents(*, client: Client, signed: list[SignedConsent] | None = None) -> list[ConsentStatus]:
    """The client's standing with each consent form, treatment first: one query, or none when
    the page already holds the client's signatures newest first (`client_consent_history`)."""
    if signed is None:
        signed = list(
            SignedConsent.objects.filter(client=client)
            .select_related("withdrawal")
            .defer("signature_png", "text")
            .order_by("-signed_at", "-id")
        )
    statuses = []
    for kind in ConsentKind.values:
        newest = next((c for c in signed if c.kind == kind), None)
        state = "missing" if newest is None else "withdrawn" if newest.is_withdrawn else "current"
        statuses.append(ConsentStatus(kind, state, newest))
    return statuses


def client_consent_history(*, client: Client) -> list[SignedConsent]:
    """Every signature of the client, newest first (without the images): one query."""
    return list(
        SignedConsent.objects.filter(client=client)
        .select_related("withdrawal", "version__template", "witness")
        .defer("signature_png")
        .order_by("-signed_at", "-id")
    )


def treatment_consent_in_force(client_id) -> Exists:
    """Has the client (an id, or OuterRef to one) a treatment consent in force: signed, and neither
    that signature nor the client's treatment consent withdrawn? An expression, so a list of
    appointments asks it in the query that reads them."""
    return Exists(
        SignedConsent.objects.filter(client_id=client_id, kind=ConsentKind.TREATMENT, withdrawal__isnull=True).filter(
            client__treatment_consent_withdrawn_at__isnull=True
        )
    )


def photo_consent_allows(*, client: Client, use: str) -> bool:
    """The guard a photo upload calls (photos arrive with issue 18): is there a photo consent in
    force that opted into this use? A withdrawn or newer consent without the use says no."""
    consent = SignedConsent.objects.current(client_id=client.pk, kind=ConsentKind.PHOTO)
    return consent is not None and consent.allows_photo_use(use)


# --- Standard photos (capture page, before/after) -------------------------------------------------


@dataclass(frozen=True)
class PhotoSlot:
    """One view of a visit's photo set: the photo taken, and the client's baseline of that view to line up with."""

    view: PhotoView
    photo: Photo | None
    baseline: Photo | None


def session_photo_slots(session: PlanSession) -> list[PhotoSlot]:
    """The visit's photo set, view by view (active views, and retired ones it has a photo of): two queries."""
    client_photos = list(
        Photo.objects.filter(session__plan__client_id=session.plan.client_id)
        .select_related("view", "session")
        .order_by("taken_at", "id")
    )
    taken = {p.view_id: p for p in client_photos if p.session_id == session.pk}
    # The baseline is the client's first photo of the view from another visit (session 1's, normally).
    baseline: dict[int, Photo] = {}
    for photo in client_photos:
        if photo.session_id != session.pk:
            baseline.setdefault(photo.view_id, photo)
    views = PhotoView.objects.filter(Q(active=True) | Q(pk__in=taken.keys())).order_by("position", "id")
    return [PhotoSlot(view, taken.get(view.pk), baseline.get(view.pk)) for view in views]


@dataclass(frozen=True)
class HistoryRow:
    session: PlanSession
    on: dt.date
    depth_mm: object  # Decimal | None: the deepest zone of the signed record, else the depth entered


@dataclass(frozen=True)
class PhotoComparison:
    views: list[PhotoView]
    view: PhotoView | None
    photos: list[Photo]  # every photo of the client for this view, oldest first
    before: Photo | None
    after: Photo | None
    history: list[HistoryRow]
    refusal: str = ""


def _photo_day(photo: Photo) -> dt.date:
    return timezone.localdate(photo.session.starts_at or photo.taken_at)


def client_photo_comparison(
    *, client: Client, view_code: str = "", before_id: int | None = None, after_id: int | None = None
) -> PhotoComparison:
    """Two photos of one view for the before/after page (default: the first against the newest)
    and the sessions that took place between them: four queries."""
    views = list(PhotoView.objects.filter(photos__session__plan__client=client).distinct().order_by("position", "id"))
    view = next((v for v in views if v.code == view_code), views[0] if views else None)
    if view is None:
        return PhotoComparison(views, None, [], None, None, [], "No standard photos of this client yet.")
    photos = list(
        Photo.objects.filter(session__plan__client=client, view=view)
        .select_related("session", "view")
        .order_by("taken_at", "id")
    )
    photos.sort(key=lambda p: (_photo_day(p), p.taken_at, p.pk))
    by_id = {p.pk: p for p in photos}
    before = by_id.get(before_id) or photos[0]
    after = by_id.get(after_id) or photos[-1]
    if _photo_day(after) < _photo_day(before):
        before, after = after, before
    refusal = "" if len(photos) > 1 else f"Only one {view} photo so far: the comparison needs a second visit."
    first, last = _photo_day(before), _photo_day(after)
    sessions = (
        PlanSession.objects.filter(
            plan__client=client, status=SessionStatus.COMPLETED, starts_at__date__gte=first - dt.timedelta(days=1)
        )
        .select_related("plan", "treatment_record")
        .prefetch_related("treatment_record__zones")
        .order_by("starts_at", "id")
    )
    history = []
    for session in sessions:
        on = timezone.localdate(session.starts_at)
        if first <= on <= last:
            record = getattr(session, "treatment_record", None)
            depth = (record.deepest_mm if record else None) or session.depth_used_mm
            history.append(HistoryRow(session, on, depth))
    return PhotoComparison(views, view, photos, before, after, history, refusal)


# --- Clients and plans (client and plan pages) ---------------------------------------------------


def client_current_screening_id(client: Client) -> QuerySet:
    """The id of the client's current (newest) screen, as a subquery.

    "Newest" is spelled once, in Screening.Meta.ordering; these two selectors only rely on it.
    """
    return Screening.objects.filter(client=client).values("id")[:1]


def client_current_screening(client: Client) -> Screening | None:
    return Screening.objects.filter(client=client).select_related("screened_by").first()


def client_current_answers(client: Client) -> list[ScreeningAnswer]:
    """The current screen's answers in catalogue order (one query)."""
    return list(
        ScreeningAnswer.objects.filter(screening=Subquery(client_current_screening_id(client)))
        .select_related("question")
        .order_by("question__position", "question_id")
    )


# How staff type a date of birth: as the pages show it (14/03/1988) or as ISO (1988-03-14).
DATE_OF_BIRTH_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d.%m.%Y", "%d-%m-%Y")


def _date_of_birth(word: str) -> dt.date | None:
    for pattern in DATE_OF_BIRTH_FORMATS:
        try:
            return dt.datetime.strptime(word, pattern).date()
        except ValueError:
            continue
    return None


def client_list_search(text: str) -> QuerySet[Client]:
    """Clients for the list page, with their plan count; every word must match a name, the
    email, the phone or (a word that reads as a date) the date of birth."""
    clients = Client.objects.annotate(
        # A correlated count, not a GROUP BY: PostgreSQL then walks the name index, stops at one page
        # and counts plans for those 25 rows only (the GROUP BY aggregated every client first).
        plan_count=Coalesce(
            Subquery(
                TreatmentPlan.objects.filter(client=OuterRef("pk"))
                .order_by()
                .values("client")
                .annotate(n=Count("id"))
                .values("n")
            ),
            0,
        )
    ).order_by("last_name", "first_name", "id")
    words = text.split()
    for word in words:  # "ana silva" finds Ana Silva; "14/03/1988" her date of birth
        match = Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(email__icontains=word)
        match |= Q(phone__icontains=word)
        if (born := _date_of_birth(word)) is not None:
            match |= Q(date_of_birth=born)
        clients = clients.filter(match)
    if words:
        # Matches are few: sort them after finding them. Ordered by the indexed name columns, PostgreSQL
        # would walk the whole name index testing every client (100 ms at 100,000 clients) instead of
        # asking the trigram indexes; an expression order (same order, case-blind) keeps it on them.
        clients = clients.order_by(Lower("last_name"), Lower("first_name"), "id")
    return clients


def _sessions_in_order() -> Prefetch:
    sessions = PlanSession.objects.select_related("practitioner", "room").order_by("sequence")
    return Prefetch("sessions", queryset=sessions)


def plan_for_page(pk: int) -> QuerySet[TreatmentPlan]:
    return TreatmentPlan.objects.select_related(
        "client", "protocol", "created_by", "review_acknowledged_by"
    ).prefetch_related(_sessions_in_order())


@dataclass(frozen=True)
class PlanScores:
    """A plan's clinician scores, as the client page shows them: the pore grade (0-4) at baseline
    and at the assessment, and the GAIS rated at the assessment."""

    baseline: int | None
    assessment: int | None
    gais: int | None

    @property
    def gais_label(self) -> str:
        return Gais(self.gais).label if self.gais else ""

    @property
    def any(self) -> bool:
        return self.baseline is not None or self.assessment is not None


def _score(moment: str, field: str) -> Subquery:
    return Subquery(OutcomeScore.objects.filter(plan=OuterRef("pk"), moment=moment).values(field)[:1])


def client_plans_now(client: Client, *, scores: bool = False) -> list[tuple[TreatmentPlan, PlanNow]]:
    """The client's plans, each as it is now: four queries however many plans and sessions.
    `scores` (clinical roles): each plan's clinician scores as `plan.scores`, read in the same
    query as the plans."""
    plans = client.plans.select_related("created_by").prefetch_related(_sessions_in_order())
    if scores:
        plans = plans.annotate(
            baseline_grade=_score(ScoreMoment.BASELINE, "pore_grade"),
            assessment_grade=_score(ScoreMoment.ASSESSMENT, "pore_grade"),
            assessment_gais=_score(ScoreMoment.ASSESSMENT, "gais"),
        )
    plans = list(plans)
    for plan in plans if scores else ():
        plan.scores = PlanScores(plan.baseline_grade, plan.assessment_grade, plan.assessment_gais)
    messages: dict[int, list[Message]] = {plan.pk: [] for plan in plans}
    for message in Message.objects.filter(client=client).annotate(plan_pk=F("session__plan_id")):
        messages.setdefault(message.plan_pk, []).append(message)
    return [(plan, plan_now(plan, messages=messages[plan.pk])) for plan in plans]


# Sessions that will not take place at their booked time: no spans, care notes or reminders around them.
NOT_TAKING_PLACE = (SessionStatus.CANCELLED, SessionStatus.NO_SHOW)


def plan_session_day(session: PlanSession) -> dt.date:
    """The day a session is on now: its booked (or completed) day in the clinic's zone, else its target."""
    if session.starts_at and session.status in (SessionStatus.BOOKED, SessionStatus.COMPLETED):
        return timezone.localdate(session.starts_at)
    return session.target


def plan_session_booked_at(session: PlanSession) -> dt.datetime | None:
    """When the session is (or was, when it took place or was missed) booked; None when unbooked or cancelled."""
    if session.status in (SessionStatus.BOOKED, SessionStatus.COMPLETED, SessionStatus.NO_SHOW):
        return session.starts_at
    return None


@dataclass(frozen=True)
class SessionRow:
    session: PlanSession
    day: dt.date  # booked day, else target
    booked_at: dt.datetime | None
    taking_place: bool  # False for cancelled and no-show sessions


@dataclass(frozen=True)
class CareNoteRow:
    """One care note of one session as it stands: its day from the session's current date, and the
    email that carries it (None: nothing scheduled yet, e.g. post-care before the session)."""

    due: planning.CareNoteDue
    session: PlanSession
    message: Message | None
    in_reminder: bool  # carried by a reminder (pre-care listed in the 7-day reminder), not an email of its own
    passed: bool = False  # its day or its session is behind us: no email will be scheduled for it any more


@dataclass(frozen=True)
class PlanNow:
    """Everything a page shows about a plan, derived from its current sessions and its outbox rows."""

    sessions: list[SessionRow]  # every session, cancelled ones included (they can be booked again)
    current: list[PlanSession]  # the ones taking place (booked, proposed, completed)
    layout: planning.PlanLayout
    care_notes: list[CareNoteRow]
    late_pre_care: tuple[planning.CareNoteDue, ...]

    @property
    def start(self) -> dt.date | None:
        return min((plan_session_day(s) for s in self.current), default=None)

    @property
    def late_pre_care_warning(self) -> str:
        return planning.late_pre_care_warning(self.late_pre_care) if self.late_pre_care else ""


def _carriers(plan: TreatmentPlan, due: planning.CareNoteDue) -> list[tuple[str, bool]]:
    """Message kinds that deliver a care note, in the order the outbox prefers them: (kind, is a reminder)."""
    if due.phase == "post":
        return [(MessageKind.care(due.note_id), False)]
    reminders = [
        (MessageKind.reminder(r.hours_before), True)
        for r in plan.params.reminder_leads_longest_first
        if r.include_pre_care
    ]
    return [(MessageKind.pre_care(due.note_id), False), *reminders]


def plan_now(plan: TreatmentPlan, *, today: dt.date | None = None, messages: list[Message] | None = None) -> PlanNow:
    """The plan as it is: spans and care notes around the current session dates, each care note with
    the email actually scheduled or sent for it, and the pre-care that is late today. One query
    (the plan's messages, unless given) beyond the prefetched sessions."""
    today = today or timezone.localdate()
    if messages is None:
        messages = list(Message.objects.filter(session__plan=plan))
    sessions = list(plan.sessions.all())
    current = [s for s in sessions if s.status not in NOT_TAKING_PLACE]
    by_mn = {s.mn_number: s for s in current if s.kind == SessionKind.MICRONEEDLING and s.mn_number}
    layout = planning.plan_layout(
        plan.params, plan.selected_combinations, {k: plan_session_day(s) for k, s in by_mn.items()}
    )
    by_kind = {(m.session_id, m.kind): m for m in messages}
    rows: list[CareNoteRow] = []
    done: set[tuple[int, int]] = set()
    for due in layout.care_schedule:
        session = by_mn[due.mn_number]
        carried = [by_kind.get((session.pk, kind)) for kind, _ in _carriers(plan, due)]
        took_place = session.status == SessionStatus.COMPLETED or plan_session_day(session) < today
        rows.append(_care_row(due, session, by_kind, plan, passed=took_place or due.day < today))
        sent_in_time = any(
            m is not None and m.status == MessageStatus.SENT and timezone.localdate(m.sent_at) <= due.day
            for m in carried
        )
        if took_place or sent_in_time:
            done.add((due.mn_number, due.note_id))
    late = planning.late_pre_care(layout.care_schedule, today, frozenset(done))
    session_rows = [
        SessionRow(s, plan_session_day(s), plan_session_booked_at(s), s.status not in NOT_TAKING_PLACE)
        for s in sessions
    ]
    return PlanNow(session_rows, current, layout, rows, late)


def _care_row(
    due: planning.CareNoteDue, session: PlanSession, messages: dict, plan: TreatmentPlan, *, passed: bool
) -> CareNoteRow:
    for kind, in_reminder in _carriers(plan, due):
        if (message := messages.get((session.pk, kind))) is not None:
            return CareNoteRow(due, session, message, in_reminder, passed)
    return CareNoteRow(due, session, None, False, passed)


# --- Calendar and booking pages ------------------------------------------------------------------

# Shown on the calendar; cancelled ones only on request.
SHOWN = [SessionStatus.BOOKED, SessionStatus.COMPLETED, SessionStatus.NO_SHOW]

# The plan's JSON columns (snapshot, rationale, ...) are large and decoded per row: the calendar
# and day list only need the client's name, so they are left out of the join.
PLAN_JSON = (
    "plan__protocol_snapshot",
    "plan__rationale",
    "plan__warnings",
    "plan__review_items",
    "plan__selected_combinations",
)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=booking.clinic_tz())


@dataclass(frozen=True)
class CalendarRows:
    """A range's appointments as plain rows, and their plans (for labels and actions)."""

    rows: list[dict]
    plans: dict[int, TreatmentPlan]

    def session(self, row: dict) -> PlanSession:
        """An unsaved PlanSession carrying what label and available_actions read: the
        model answers those, not the view (building it costs far less than loading it)."""
        return PlanSession(
            id=row["id"],
            plan=self.plans[row["plan_id"]],
            kind=row["kind"],
            title=row["title"],
            mn_number=row["mn_number"],
            status=row["status"],
            starts_at=row["starts_at"],
            checked_in_at=row["checked_in_at"],
            started_at=row["started_at"],
        )


def calendar_sessions(
    *, first: dt.date, last: dt.date, cancelled: bool = False, practitioner_id: int | None = None
) -> CalendarRows:
    """Appointments between two clinic-local dates (last exclusive): three queries."""
    start, end = _midnight(first), _midnight(last)
    rows = (
        # The lower bound on starts_at is implied (no booking is longer than MAX_BOOKING_SPAN) and
        # bounds PostgreSQL's range scan of the starts_at index to the week instead of all history.
        PlanSession.objects.filter(
            status__in=[*SHOWN, SessionStatus.CANCELLED] if cancelled else SHOWN,
            starts_at__lt=end,
            starts_at__gte=start - booking.MAX_BOOKING_SPAN,
            ends_at__gt=start,
        )
        .order_by("starts_at")
        # Plain rows, not model instances: building a week of instances (session, plan, client,
        # practitioner, room) cost several times the query itself.
        .values(
            "id",
            "plan_id",
            "kind",
            "title",
            "mn_number",
            "status",
            "starts_at",
            "ends_at",
            "checked_in_at",
            "started_at",
            "practitioner_id",
            "room_id",
            "plan__client_id",
            "plan__client__first_name",
            "plan__client__last_name",
            "practitioner__display_name",
            "room__name",
        )  # fmt: skip
    )
    if practitioner_id is not None:
        rows = rows.filter(practitioner_id=practitioner_id)
    rows = list(rows)
    # One row per plan, not per session: the snapshot (for "session k of n") is decoded once a plan.
    # The client comes along for one column: a withdrawn consent refuses booking (PlanSession.refusal).
    plans = sharing_snapshots(
        TreatmentPlan.objects.select_related("client").only(
            "id",
            "status",
            "hold_opened_at",
            "review_pending",
            "adverse_event_hold",
            "client__treatment_consent_withdrawn_at",
        ),
        {r["plan_id"] for r in rows},
    )
    return CalendarRows(rows, plans)


class SnapshotDigest(Func):
    """A hash of a plan's protocol snapshot, computed by the database: every plan made from one
    version of a protocol has the same snapshot, hence the same digest."""

    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="MD5(CAST(%(expressions)s AS text))", **extra_context)

    def as_postgresql(self, compiler, connection, **extra_context):
        # Hashes the stored jsonb itself: cheaper than rendering 25 kB of it as text first.
        return self.as_sql(compiler, connection, template="jsonb_hash_extended(%(expressions)s, 0)::text")


def sharing_snapshots(plans: QuerySet[TreatmentPlan], ids: set[int]) -> dict[int, TreatmentPlan]:
    """The plans `ids` of `plans` (which must leave protocol_snapshot out), each with its snapshot,
    read and decoded once per distinct snapshot: two queries.

    A snapshot is the whole protocol as the plan was made (often 25 kB of JSON), and a week of the
    calendar holds hundreds of plans made from a handful of protocol versions: loading every
    plan's copy cost half a second of transfer and decoding at the benchmark's size. Plans sharing
    a snapshot share one dict, so TreatmentPlan.params parses it once too."""
    if not ids:
        return {}
    found = plans.annotate(snapshot_digest=SnapshotDigest("protocol_snapshot")).in_bulk(ids)
    first_with: dict[str, int] = {}
    for plan in found.values():
        first_with.setdefault(plan.snapshot_digest, plan.pk)
    snapshots = dict(TreatmentPlan.objects.filter(pk__in=first_with.values()).values_list("pk", "protocol_snapshot"))
    for pk in first_with.values():
        found[pk].protocol_snapshot = snapshots[pk]
    for plan in found.values():
        first = found[first_with[plan.snapshot_digest]]
        if plan is not first:
            plan.share_snapshot_of(first)
    return found


def closed_time(*, first: dt.date, last: dt.date) -> list[scheduling.Closed]:
    """Hours not worked, time off and closures between two clinic-local dates (last exclusive):
    four queries (practitioners, hours, time off, rooms), no bookings read."""
    availability = booking.availability_for(first=first, last=last, dates=[])
    return scheduling.closed_spans(availability, first, last - dt.timedelta(days=1))


class DayNumber(Func):
    """A date as a whole number of days, so SQL can order by the distance between two dates
    (PostgreSQL's date arithmetic gives an interval, which has no ABS)."""

    output_field = IntegerField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="CAST(julianday(%(expressions)s) AS INTEGER)")

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="(%(expressions)s - DATE '2000-01-01')")


# The "book here" list shows this many; as-you-type search finds the others.
BOOK_HERE_LIMIT = 20


def bookable_here(
    *, day: dt.date, practitioner_id: int | None = None, text: str = "", limit: int = BOOK_HERE_LIMIT
) -> list[dict]:
    """Sessions to offer for an empty slot on `day`: each plan's next session still to book whose
    window holds `day`, ranked by how near its target `day` is, then those the slot's
    practitioner already treats, then the longest waiting. `text` searches the client's name,
    email or phone instead, whatever the window (a booking outside it needs a reason).
    At most `limit` rows, in one query, whatever the number of active plans."""
    today = timezone.localdate()
    # An earlier session of the same plan still to book (window open) comes first: offer that one.
    earlier = PlanSession.objects.filter(
        plan_id=OuterRef("plan_id"), sequence__lt=OuterRef("sequence"), status__in=BOOKABLE_STATUSES, latest__gte=today
    )
    sessions = PlanSession.objects.filter(plan__status=PlanStatus.ACTIVE, status__in=BOOKABLE_STATUSES).exclude(
        Exists(earlier)
    )
    words = text.split()
    if words:
        sessions = sessions.filter(latest__gte=today)
        for word in words:
            sessions = sessions.filter(
                Q(plan__client__first_name__icontains=word)
                | Q(plan__client__last_name__icontains=word)
                | Q(plan__client__email__icontains=word)
                | Q(plan__client__phone__icontains=word)
            )
    else:
        sessions = sessions.filter(earliest__lte=day, latest__gte=day)
    if practitioner_id is not None:
        treats = PlanSession.objects.filter(
            plan_id=OuterRef("plan_id"), practitioner_id=practitioner_id, status__in=OCCUPYING_STATUSES
        )
        prefers = Q(practitioner_id=practitioner_id) | Exists(treats)
    else:
        prefers = Q(pk__in=[])
    rows = (
        sessions.annotate(
            fit=Abs(DayNumber(F("target")) - DayNumber(Value(day, output_field=DateField()))),
            prefers=Case(When(prefers, then=Value(0)), default=Value(1)),
        )
        .order_by("fit", "prefers", "earliest", "id")
        .values(
            "id",
            "title",
            "earliest",
            "latest",
            "prefers",
            "plan__client__first_name",
            "plan__client__last_name",
        )[:limit]
    )
    return [
        {
            "id": r["id"],
            "label": f"{r['plan__client__first_name']} {r['plan__client__last_name']} — {r['title']} "
            f"(window {r['earliest']:%d %b}–{r['latest']:%d %b})",
            "inWindow": r["earliest"] <= day <= r["latest"],
            "usual": r["prefers"] == 0,
        }
        for r in rows
    ]


def day_sessions(*, day: dt.date) -> QuerySet[PlanSession]:
    """The day's appointments for the front desk's list, in time order: one query."""
    start = _midnight(day)
    return (
        PlanSession.objects.filter(starts_at__gte=start, starts_at__lt=start + dt.timedelta(days=1))
        .exclude(status=SessionStatus.PROPOSED)
        .select_related("plan__client", "practitioner", "room")
        .defer(*PLAN_JSON)
        .order_by("starts_at", "practitioner__display_name")
    )


def plan_for_booking(*, pk: int) -> tuple[TreatmentPlan, list[PlanSession]]:
    """A plan with its client, and its sessions in order with practitioner and room: three queries."""
    plan = TreatmentPlan.objects.select_related("client").get(pk=pk)
    sessions = list(plan.sessions.select_related("practitioner", "room").order_by("sequence"))
    for s in sessions:
        s.plan = plan
    return plan, sessions


def session_for_panel(*, pk: int) -> PlanSession:
    return PlanSession.objects.select_related("plan__client", "practitioner", "room").get(pk=pk)


def proposal_rows(proposal: booking.SeriesProposal) -> tuple[list[dict], list[dict]]:
    """The proposal's rows (session, time, practitioner, room, days off target) and the
    nearest options of an infeasible one, for the plan booking page: two queries."""
    problem = proposal.result.problem
    nearest = problem.nearest if problem else []
    practitioners = Practitioner.objects.in_bulk(
        {b.slot.practitioner_id for b in proposal.result.bookings} | {s.practitioner_id for s in nearest}
    )
    rooms = Room.objects.in_bulk({b.slot.room_id for b in proposal.result.bookings})
    rows = [
        {
            "session": session,
            "start": b.slot.start,
            "practitioner": practitioners[b.slot.practitioner_id],
            "room": rooms[b.slot.room_id],
            "off_target": (timezone.localdate(b.slot.start) - session.target).days,
        }
        for session, b in proposal.rows
    ]
    return rows, [{"start": s.start, "practitioner": practitioners[s.practitioner_id]} for s in nearest]


# A feed reaches this far back, so a calendar app still shows last month's appointments.
FEED_DAYS_BACK = 30


def feed_sessions(*, practitioner: Practitioner) -> QuerySet[PlanSession]:
    """The practitioner's appointments for their iCalendar feed, from a month ago on: one query."""
    since = timezone.now() - dt.timedelta(days=FEED_DAYS_BACK)
    return (
        PlanSession.objects.filter(practitioner=practitioner, starts_at__gte=since)
        .exclude(status=SessionStatus.PROPOSED)
        .select_related("plan__client", "room")
    )


# --- The clinical record: treatment records, adverse events, lot recall ----------------------------


@dataclass(frozen=True)
class TreatedWith:
    """One session done with a lot: who to contact about a recall."""

    client_id: int
    name: str
    email: str
    phone: str
    session_id: int
    session_title: str
    treated_at: dt.datetime


def lot_treated_clients(lot: Lot) -> list[TreatedWith]:
    """Every session done with `lot` (as cartridge or product), with the client's contact: one query."""
    rows = (
        TreatmentRecord.objects.filter(Q(cartridge=lot) | Q(product=lot))
        .order_by("session__plan__client__last_name", "session__plan__client__first_name", "session__starts_at")
        .values_list(
            "session__plan__client_id",
            "session__plan__client__first_name",
            "session__plan__client__last_name",
            "session__plan__client__email",
            "session__plan__client__phone",
            "session_id",
            "session__title",
            "session__starts_at",
        )
    )
    return [
        TreatedWith(c, f"{first} {last}", email, phone, s, title, at)
        for c, first, last, email, phone, s, title, at in rows
    ]


def session_record(session: PlanSession) -> TreatmentRecord | None:
    """The session's signed record with its device, lots, zones and addenda (a fixed number of queries)."""
    return (
        TreatmentRecord.objects.filter(session=session)
        .select_related("device", "cartridge", "product", "signed_by")
        .prefetch_related("zones", Prefetch("addenda", queryset=RecordAddendum.objects.select_related("by")))
        .first()
    )


def client_adverse_events(client: Client) -> list[AdverseEvent]:
    return list(client.adverse_events.select_related("session", "recorded_by", "cleared_by"))


def usable_kit(*, today: dt.date) -> tuple[QuerySet[Device], QuerySet[Lot], QuerySet[Lot]]:
    """What the record form offers: active devices, and lots neither expired nor recalled."""
    lots = Lot.objects.filter(recalled_at__isnull=True, expires_on__gte=today)
    return (
        Device.objects.filter(active=True),
        lots.filter(kind=LotKind.CARTRIDGE),
        lots.filter(kind=LotKind.PRODUCT),
    )


def client_live_access(client) -> ClientAccess | None:
    """The client's newest link to their own page that still opens it (staff may withdraw it)."""
    return (
        ClientAccess.objects.filter(client=client, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .order_by("-issued_at", "-id")
        .first()
    )


def waitlist_live(*, limit: int = 200) -> tuple[list, bool]:
    """The waitlist as staff manage it: live entries in the order offers go out, each with its
    session (client, practitioner) and its offers; two queries whatever the list's length, and
    at most `limit` entries (and whether there are more)."""
    from django.db.models import Prefetch

    from plans.models import LIVE_WAITLIST, WaitlistEntry, WaitlistOffer

    rows = list(
        WaitlistEntry.objects.filter(status__in=LIVE_WAITLIST)
        .select_related("session__plan__client", "session__practitioner", "session__room")
        .defer(
            "session__plan__protocol_snapshot",
            "session__plan__rationale",
            "session__plan__warnings",
            "session__plan__review_items",
            "session__plan__selected_combinations",
        )
        .prefetch_related(
            Prefetch(
                "offers", queryset=WaitlistOffer.objects.select_related("practitioner").order_by("-created_at", "-id")
            )
        )
        .order_by("requested_at", "id")[: limit + 1]
    )
    return rows[:limit], len(rows) > limit


# --- Outcomes ----------------------------------------------------------------------------------------


def pore_grade_anchors() -> list:
    """The five grades with the words staff read beside each (one query)."""
    from plans.models import PoreGradeAnchor

    return list(PoreGradeAnchor.objects.order_by("grade"))


@dataclass(frozen=True)
class PlanOutcomes:
    scores: dict  # moment -> OutcomeScore
    questionnaires: list  # QuestionnaireResponse, with .answers prefetched (question joined)

    @property
    def baseline(self):
        return self.scores.get("baseline")

    @property
    def assessment(self):
        return self.scores.get("assessment")

    @property
    def pore_grade_change(self) -> int | None:
        """Assessment minus baseline (negative: fewer visible pores)."""
        if self.baseline is None or self.assessment is None:
            return None
        return self.assessment.pore_grade - self.baseline.pore_grade


@dataclass(frozen=True)
class AnswerRow:
    code: str
    text: str
    value_label: str


@dataclass(frozen=True)
class ResponseRow:
    moment: str
    label: str
    submitted_at: dt.datetime | None
    answers: list


def plan_scores(plan_ids) -> dict[int, dict]:
    """plan id -> {moment: OutcomeScore}, in one query."""
    from plans.models import OutcomeScore

    plan_ids = list(plan_ids)
    scores: dict[int, dict] = {pk: {} for pk in plan_ids}
    for score in OutcomeScore.objects.filter(plan_id__in=plan_ids).select_related("rated_by"):
        scores[score.plan_id][score.moment] = score
    return scores


def plan_outcomes(plan_ids) -> dict[int, PlanOutcomes]:
    """Scores and questionnaire answers of these plans in two queries whatever their number: the
    responses come with their answers through one LEFT JOIN (a prefetch would add a query only
    when something was answered). Plan pages show them to clinical roles only."""
    from plans.models import AnswerType, QuestionnaireAnswer, QuestionnaireResponse, ScoreMoment

    plan_ids = list(plan_ids)
    scores = plan_scores(plan_ids)
    rows = (
        QuestionnaireResponse.objects.filter(plan_id__in=plan_ids)
        .order_by("plan_id", "created_at", "id", "answers__question__position", "answers__id")
        .values_list(
            "id",
            "plan_id",
            "moment",
            "submitted_at",
            "answers__value",
            "answers__question__code",
            "answers__question__text",
            "answers__question__answer_type",
        )
    )
    answered: dict[int, list] = {pk: [] for pk in plan_ids}
    by_id: dict[int, ResponseRow] = {}
    for rid, plan_id, moment, submitted_at, value, code, text, answer_type in rows:
        if rid not in by_id:
            by_id[rid] = ResponseRow(moment, ScoreMoment(moment).label, submitted_at, [])
            answered[plan_id].append(by_id[rid])
        if code is not None:
            answer = QuestionnaireAnswer(value=value)
            high = 1 if answer_type == AnswerType.YES_NO else (10 if answer_type == AnswerType.SCALE_0_10 else 5)
            label = ("Yes" if value else "No") if answer_type == AnswerType.YES_NO else f"{answer.value} of {high}"
            by_id[rid].answers.append(AnswerRow(code, text, label))
    return {pk: PlanOutcomes(scores[pk], answered[pk]) for pk in plan_ids}


# --- New-client intake ---------------------------------------------------------------------------


def screening_codes_the_rules_act_on() -> set[str]:
    """Question codes whose 'yes' a rule stops, defers or sends to review on some active protocol,
    and the clinic floor's fixed hard stops: a new person answering yes to one hears from the
    clinic before their consultation. Windows are not weighed here (no plan start exists yet):
    a clinician judges them on the call."""
    from plans.models import ContraindicationRule
    from plans.safety import CLINIC_FLOOR

    ruled = ContraindicationRule.objects.filter(protocol__active=True).values_list("question__code", flat=True)
    return set(ruled) | {code for code, _why in CLINIC_FLOOR.hard_stops}


def intake_invitations(*, limit: int = 200):
    """The intake list, newest first: the forms waiting for review above the rest. Bounded, like
    every staff list, and without the answers (front desk reads the same rows)."""
    from plans.models import IntakeInvitation

    waiting = Case(
        When(submitted_at__isnull=False, reviewed_at__isnull=True, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    rows = list(
        IntakeInvitation.objects.defer("answers")
        .select_related("invited_by", "client")
        .annotate(waiting=waiting)
        .order_by("waiting", "-needs_call", "-created_at", "-id")[: limit + 1]
    )
    return rows[:limit], len(rows) > limit
