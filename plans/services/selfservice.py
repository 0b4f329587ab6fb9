"""The client's own page, opened from any email: the access it rests on, and what the client may
do there (confirm, cancel, reschedule inside the rules). Every booking change goes through
services/booking.py, so a client's move takes the same locks and writes the same outbox
updates (and .ics SEQUENCE) as a staff move.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from plans import scheduling
from plans.models import Client, ClientAccess, PlanSession, PlanStatus, Practitioner, Room, SessionStatus
from plans.outbox.links import BadLink, client_token, read_client_token
from plans.services import booking

log = logging.getLogger(__name__)

# An email reuses the client's live access unless it expires sooner than this: a link in a
# fresh email always works for at least this long.
REISSUE_BEFORE_EXPIRY = dt.timedelta(days=7)
# How many slots the reschedule page offers, and how far past the target it looks.
OFFERS = 8


class ClientActionRefused(Exception):
    """What the client asked is not allowed now; the message is for the client."""


def _now() -> dt.datetime:
    return timezone.now()


# --- The access ---------------------------------------------------------------------------


def _reusable(now: dt.datetime):
    """Accesses an email may still name: not withdrawn, and not about to expire."""
    return ClientAccess.objects.filter(revoked_at__isnull=True, expires_at__gt=now + REISSUE_BEFORE_EXPIRY)


def client_access_issue(*, client: Client, now: dt.datetime | None = None) -> ClientAccess:
    """The access an email's link names: the client's newest live one, or a new one."""
    now = now or _now()
    with transaction.atomic():
        live = _reusable(now).filter(client=client).order_by("-issued_at", "-id").first()
        if live is not None:
            return live
        return ClientAccess.objects.create(
            client=client,
            issued_at=now,
            expires_at=now + dt.timedelta(days=settings.CLIENT_PAGE_LINK_MAX_AGE_DAYS),
        )


def _page_url(access_id: int, client_id: int) -> str:
    return settings.CLINIC_BASE_URL + reverse("public-page", args=[client_token(access_id, client_id)])


def client_page_url(*, client: Client, now: dt.datetime | None = None) -> str:
    return _page_url(client_access_issue(client=client, now=now).pk, client.pk)


def client_page_urls(client_ids: Iterable[int | None], *, now: dt.datetime) -> dict[int, str]:
    """The links client_page_url would give a batch of clients, in one read (a worker's batch of
    emails). A client with no live access is left out: its email issues one as it renders."""
    newest: dict[int, int] = {}
    rows = _reusable(now).filter(client_id__in={c for c in client_ids if c}).order_by("client_id", "-issued_at", "-id")
    for access_id, client_id in rows.values_list("id", "client_id"):
        newest.setdefault(client_id, access_id)
    return {client_id: _page_url(access_id, client_id) for client_id, access_id in newest.items()}


def live_page_path(*, client: Client) -> str:
    """The path to the client's page by their newest live link, "" when staff withdrew them all
    (or they expired). Never a new access: a page shown from an older email's link (a waitlist
    offer) must not bring back a page link staff withdrew."""
    from plans.selectors import client_live_access

    access = client_live_access(client)
    return reverse("public-page", args=[client_token(access.pk, client.pk)]) if access else ""


def client_access_revoke(*, client: Client, by) -> int:
    """Staff withdraw every live link to the client's page (a lost phone, a shared inbox).
    The next email issues a new one. Returns how many were revoked."""
    now = _now()
    with transaction.atomic():
        count = ClientAccess.objects.filter(client=client, revoked_at__isnull=True, expires_at__gt=now).update(
            revoked_at=now, revoked_by=by
        )
    log.info("client %s: %d page links revoked by %s", client.pk, count, by)
    return count


def client_access_read(*, token: str, now: dt.datetime | None = None) -> ClientAccess:
    """The live access a token names (its use recorded); BadLink with words for the client otherwise."""
    now = now or _now()
    access_id, client_id = read_client_token(token)
    access = ClientAccess.objects.select_related("client").filter(pk=access_id, client_id=client_id).first()
    if access is None or access.client.erased_at is not None:
        raise BadLink("This link does not match any of your appointments.")
    if refusal := access.refusal(now=now):
        raise BadLink(refusal)
    ClientAccess.objects.filter(pk=access.pk).update(last_used_at=now)
    return access


def page_back_path(*, token: str, client_id: int, now: dt.datetime | None = None) -> str:
    """The path back to the client's page a form (the consent, the pre-session check) was opened
    from: the same page token, while it is still a live link of that form's client; "" otherwise.

    Never a new access: a page link staff withdrew (a shared inbox) must not come back through
    an older email's consent or check link. Read only: opening a form is not a use of the page."""
    if not token:
        return ""
    try:
        access_id, token_client_id = read_client_token(token)
    except BadLink:
        return ""
    access = ClientAccess.objects.select_related("client").filter(pk=access_id, client_id=client_id).first()
    if token_client_id != client_id or access is None or access.client.erased_at is not None:
        return ""
    if access.refusal(now=now or _now()):
        return ""
    return reverse("public-page", args=[token])


# --- What the page shows ---------------------------------------------------------------------


def client_sessions(*, client: Client, now: dt.datetime | None = None) -> list[PlanSession]:
    """The client's upcoming booked sessions of plans still going: a cancelled or stopped plan's
    sessions are not actionable, so they are not listed."""
    now = now or _now()
    return list(
        PlanSession.objects.filter(
            plan__client=client,
            plan__status=PlanStatus.ACTIVE,
            status=SessionStatus.BOOKED,
            starts_at__gt=now,
        )
        .select_related("plan__client", "practitioner", "room")
        .order_by("starts_at", "id")
    )


def client_session(*, access: ClientAccess, session_id: int) -> PlanSession:
    """One of the client's actionable sessions; ClientActionRefused for anything else (another
    client's session, a stopped plan's) with the same words, so nothing is learnt by guessing."""
    session = (
        PlanSession.objects.select_related("plan__client", "practitioner", "room")
        .filter(pk=session_id, plan__client_id=access.client_id, plan__status=PlanStatus.ACTIVE)
        .first()
    )
    if session is None:
        raise ClientActionRefused("This appointment is not one you can change from this page.")
    return session


def cutoff(session: PlanSession) -> dt.datetime:
    return session.starts_at - dt.timedelta(hours=settings.CANCELLATION_CUTOFF_HOURS)


def _late_text() -> str:
    return (
        f"Appointments can be changed online up to {settings.CANCELLATION_CUTOFF_HOURS} hours before. "
        f"Please call us on {settings.CLINIC_PHONE}."
    )


def change_refusal(*, session: PlanSession, action: str, now: dt.datetime | None = None) -> str:
    """Why the client cannot `action` ("cancel" or "reschedule") this session now ("" when they can).
    One rule for what the page offers and what the POST does."""
    now = now or _now()
    if session.plan.status != PlanStatus.ACTIVE or session.status != SessionStatus.BOOKED:
        return "This appointment cannot be changed online."
    if now >= cutoff(session):
        return _late_text()
    if action == "reschedule":
        if session.client_reschedules >= settings.CLIENT_RESCHEDULES_PER_SESSION:
            return (
                f"This appointment has already been moved online {session.client_reschedules} times. "
                f"Please call us on {settings.CLINIC_PHONE} to move it again."
            )
        if not session.can("reschedule", now=now):
            return f"This appointment cannot be moved online. Please call us on {settings.CLINIC_PHONE}."
    return ""


@dataclass(frozen=True)
class FormLinks:
    """The forms to fill before the visits, each the existing signed page (never a copy)."""

    consent_url: str  # the treatment consent to sign before session 1 ("" when signed or not asked)
    check_urls: dict[int, str]  # session id -> its pre-session check, while one can be recorded


def form_links(*, client: Client, sessions: list[PlanSession]) -> FormLinks:
    """Links to the forms the client's emails ask for, made from those emails' own messages
    (so the pages behind them apply their own rules: once, not after a move...). Two queries."""
    from plans.models import ConsentKind, Message, MessageKind, SignedConsent
    from plans.outbox.links import link_url
    from plans.services import consent as consent_services
    from plans.services import safety as safety_services

    # A client's messages are few (a handful per session): read them once, newest first.
    messages = list(Message.objects.filter(client=client).select_related("client").order_by("-created_at", "-id"))
    consent_url = ""
    if SignedConsent.objects.current(client_id=client.pk, kind=ConsentKind.TREATMENT) is None:
        request = next((m for m in messages if m.kind == MessageKind.CONSENT_REQUEST), None)
        if request is not None and not consent_services.remote_refusal(request):
            consent_url = link_url(request, "consent")
    check_urls = {}
    # A check counts for the days just before the visit (PRE_SESSION_CHECK_VALID_DAYS): offered
    # earlier it would go stale before the client arrives.
    reach = _now() + dt.timedelta(days=settings.PRE_SESSION_CHECK_VALID_DAYS)
    for session in sessions:
        if session.starts_at > reach or safety_services.check_refusal(session):
            continue
        about = next((m for m in messages if session.pk in (m.session_id, *(m.covers_sessions or []))), None)
        if about is not None:
            check_urls[session.pk] = link_url(about, "check", session)
    return FormLinks(consent_url, check_urls)


# --- Reschedule offers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    start: dt.datetime
    practitioner_id: int
    practitioner: str
    room_id: int
    room: str

    @property
    def value(self) -> str:
        """What the form posts back: the slot, read again and checked under the booking locks."""
        return f"{self.start.isoformat()}|{self.practitioner_id}|{self.room_id}"


@dataclass(frozen=True)
class MoveRules:
    """What a client's own move of `session` must keep, read once: the one fit check behind the
    reschedule page and the waitlist's offers (services/waitlist.py), so the two can never differ.

    A slot fits when it lies inside the session's clinical window (`first`..`last`, after any
    deferred start), at least the cut-off ahead (`not_before`), and keeps every other placed
    session's order, interval and washout (so no later session has to move). Working hours,
    closures, time off and bookings are the availability's: the caller reads it with
    `availability()` and searches it with scheduling.first_slot and `accepts`."""

    session: PlanSession
    spec: scheduling.SessionSpec
    placed: list[scheduling.Placed]
    rules: scheduling.SeriesRules
    tz: dt.tzinfo
    first: dt.date
    last: dt.date
    not_before: dt.datetime

    def accepts(self, slot: scheduling.Slot) -> bool:
        return (
            slot.start != self.session.starts_at
            and slot.start >= self.not_before
            and self.first <= slot.local_date(self.tz) <= self.last
            and scheduling.keeps_plan(slot, self.spec, self.placed, self.rules, self.tz)
        )

    def availability(self, *, first: dt.date | None = None, last: dt.date | None = None) -> scheduling.Availability:
        """Working hours, time off, closures and other bookings (5 queries): the session's own
        time does not count as taken, since it moves."""
        return booking.availability_for(
            first=first or self.first,
            last=last or self.last,
            not_before=self.not_before,
            exclude_session_ids=[self.session.pk],
        )

    def find(self, availability: scheduling.Availability, day: dt.date, **kwargs) -> scheduling.Slot | None:
        """The earliest fitting slot on `day`; `accept` (optional) narrows it further."""
        narrower = kwargs.pop("accept", None)
        return scheduling.first_slot(
            availability,
            day,
            duration_minutes=self.spec.duration_minutes,
            buffer_minutes=self.spec.buffer_minutes,
            practitioner_ids=kwargs.pop("practitioner_ids", None),
            accept=lambda slot: self.accepts(slot) and (narrower is None or narrower(slot)),
        )


def move_rules(*, session: PlanSession, now: dt.datetime | None = None) -> MoveRules | None:
    """The rules of a client's move of `session`, or None when it cannot move at all (refused,
    or no day left between the cut-off and the end of its window). Two queries."""
    now = now or _now()
    if change_refusal(session=session, action="reschedule", now=now):
        return None
    tz = booking.clinic_tz()
    plan = session.plan
    sessions = list(plan.sessions.order_by("sequence"))
    placed = [booking.placed_for(s) for s in sessions if s.is_occupying and s.pk != session.pk]
    spec = booking.spec_for(session)
    rules = booking.rules_for(plan)
    bounds = scheduling.date_bounds(spec, placed, rules, tz)
    not_before = now + dt.timedelta(hours=settings.CANCELLATION_CUTOFF_HOURS)
    first = max(bounds.first, timezone.localdate(not_before))
    if session.kind == "microneedling" and plan.earliest_start > plan.requested_start:
        first = max(first, plan.earliest_start)
    if first > bounds.last:
        return None
    return MoveRules(session, spec, placed, rules, tz, first, bounds.last, not_before)


def reschedule_offers(*, session: PlanSession, now: dt.datetime | None = None, limit: int = OFFERS) -> list[Offer]:
    """Free slots the session may move to without anyone's help (see MoveRules: inside its
    clinical window, keeping every other placed session's order, interval and washout, after
    any deferred start, inside working hours, outside closures and time off, and never less
    than the cut-off ahead). The booking service checks it all again under its locks."""
    rules = move_rules(session=session, now=now)
    if rules is None:
        return []
    availability = rules.availability()
    names = {p.id: p.name for p in availability.practitioners}
    rooms = {r.id: r.name for r in availability.rooms}
    target = rules.spec.target
    offers: list[Offer] = []
    for day in sorted(scheduling.daterange(rules.first, rules.last), key=lambda d: (abs((d - target).days), d)):
        slot = rules.find(availability, day)
        if slot is not None:
            offers.append(
                Offer(slot.start, slot.practitioner_id, names[slot.practitioner_id], slot.room_id, rooms[slot.room_id])
            )
        if len(offers) >= limit:
            break
    return sorted(offers, key=lambda o: o.start)


# --- The client's writes -----------------------------------------------------------------------


def session_cancel_by_client(*, access: ClientAccess, session_id: int, version: int) -> PlanSession:
    session = client_session(access=access, session_id=session_id)
    if session.version != version:
        raise ClientActionRefused("This appointment has changed since you opened the page: please look again.")
    if refusal := change_refusal(session=session, action="cancel"):
        raise ClientActionRefused(refusal)
    try:
        return booking.session_cancel(
            session=session, by_client=True, reason="Cancelled by the client on their page.", by=None
        )
    except booking.BookingError as exc:
        raise ClientActionRefused(str(exc)) from exc


def parse_offer(value: str) -> tuple[dt.datetime, int, int]:
    try:
        start, practitioner_id, room_id = value.split("|")
        moment = dt.datetime.fromisoformat(start)
        if timezone.is_naive(moment):
            raise ValueError
        return moment, int(practitioner_id), int(room_id)
    except ValueError:
        raise ClientActionRefused("Choose one of the times offered.") from None


def parse_shifts(values: list[str]) -> list[booking.ShiftRequest]:
    """The cascade the client confirmed, as the page posts it back ("session id|start")."""
    shifts = []
    for value in values:
        try:
            session_id, start = value.split("|")
            moment = dt.datetime.fromisoformat(start)
            if timezone.is_naive(moment):
                raise ValueError
            shifts.append(booking.ShiftRequest(int(session_id), moment))
        except ValueError:
            raise ClientActionRefused("The proposed changes were not understood: please look again.") from None
    return shifts


def count_client_move(mover: PlanSession, *, before: PlanSession, how: str, from_page: bool = True) -> None:
    """A move the client made (their page, or a waitlist offer they took): it counts toward
    CLIENT_RESCHEDULES_PER_SESSION. In the move's transaction, under its plan lock; `before`: the
    session as locked before the move. A page move is flagged for the worklist's "moved by the
    client"; a taken offer has its own group there ("waitlist: slots taken"), so it is not."""
    mover.client_reschedules = before.client_reschedules + 1
    fields = ["client_reschedules", "updated_at"]
    if from_page:
        mover.moved_by_client_at = _now()
        fields.append("moved_by_client_at")
    mover._change_reason = how  # the history's audit line
    mover.save(update_fields=fields)


def session_reschedule_by_client(
    *,
    access: ClientAccess,
    session_id: int,
    version: int,
    slot: str,
    cascade: list[booking.ShiftRequest] | None = None,
) -> list[PlanSession]:
    """Move the client's session to an offered slot through the staff reschedule path.

    `version`: the session's version the page showed; a double submit or a move made meanwhile
    no longer matches and moves nothing. The counter and the refusal are checked again under
    the plan lock, inside the same transaction as the move."""
    starts_at, practitioner_id, room_id = parse_offer(slot)
    session = client_session(access=access, session_id=session_id)
    offered = {o.value for o in reschedule_offers(session=session, limit=60)}
    practitioner = Practitioner.objects.filter(pk=practitioner_id, active=True).first()
    room = Room.objects.filter(pk=room_id, active=True).first()
    if practitioner is None or room is None:
        raise ClientActionRefused("That time is no longer available: please choose another.")
    try:
        with transaction.atomic():
            # The booking service's own lock order (plan, then its sessions): the move below takes
            # the same rows again, so a staff write of this plan queues behind the whole of it.
            _plan, plan_sessions = booking._lock_plan(session.plan_id)
            locked = next(s for s in plan_sessions if s.pk == session.pk)
            if locked.version != version:
                raise ClientActionRefused(
                    "This appointment has changed since you opened the page (it may already be moved): "
                    "please look again."
                )
            if refusal := change_refusal(session=locked, action="reschedule"):
                raise ClientActionRefused(refusal)
            if slot not in offered and cascade is None:
                raise ClientActionRefused("That time is no longer available: please choose another.")
            moved = booking.session_reschedule(
                session=locked, starts_at=starts_at, practitioner=practitioner, room=room, cascade=cascade, by=None
            )
            count_client_move(moved[0], before=locked, how="Moved by the client on their page")
    except booking.CascadeRequired:
        raise
    except booking.NeedsOverride as exc:
        raise ClientActionRefused("That time breaks your treatment plan's timing: please choose another.") from exc
    except booking.BookingError as exc:
        raise ClientActionRefused(f"That time is no longer available: {exc}") from exc
    log.info("session %s moved by the client (access %s)", session.pk, access.pk)
    return moved
