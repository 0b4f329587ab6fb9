"""The waitlist: a client asks for an earlier slot for a booked session; when a slot frees, the
waitlisted clients it fits are offered it by email, in order of request; the first to accept
books it.

Rules live elsewhere and are reused, never copied: whether a slot fits a session is
selfservice.MoveRules (the reschedule page's own check: window, intervals, washouts, deferred
start, cut-off, with working hours, closures, time off and bookings from the availability),
and the move itself is booking.session_reschedule (its locks, outbox updates, .ics SEQUENCE).

Offers are written in the transaction of what freed the slot (a cancellation, time off
removed or shortened, new working hours, any booked session moved away from its time by
staff, by the client or by taking an offer: booking.session_reschedule), each with its email
row (outbox/write.on_waitlist_offer). A slot is offered to at most WAITLIST_OFFERS_AT_ONCE
clients at a time; `waitlist_sweep` (beat) expires offers after WAITLIST_OFFER_HOURS and
offers the slot to the next clients. The unique (entry,
practitioner, starts_at) makes every offering idempotent: the same slot reaches a client once.

Lock order, as booking's: the plan, then practitioner and room rows, then waitlist rows. Two
clients accepting one slot queue on the practitioner's row; the second finds it taken.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from plans import scheduling
from plans.models import (
    LIVE_WAITLIST,
    ClientAccess,
    MessageKind,
    OfferStatus,
    PlanSession,
    PlanStatus,
    SessionStatus,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistStatus,
)
from plans.outbox.links import BadLink, read_token
from plans.outbox.write import on_waitlist_offer
from plans.services import booking, selfservice
from plans.services.selfservice import ClientActionRefused

log = logging.getLogger(__name__)

# How many waitlisted sessions one freed span looks at (in order of request) before it stops:
# each costs a fit check (about 7 queries), inside the transaction that freed the slot.
SCAN_LIMIT = 40


def _now() -> dt.datetime:
    return timezone.now()


@dataclass(frozen=True)
class Freed:
    """Time that became bookable: [start, end) for these practitioners (None: any of them)."""

    start: dt.datetime
    end: dt.datetime
    practitioner_ids: tuple[int, ...] | None = None


# --- Asking, leaving ----------------------------------------------------------------------------


def join_refusal(*, session: PlanSession, now: dt.datetime | None = None) -> str:
    """Why the client cannot ask for an earlier slot for `session` ("" when they can). The
    reschedule's own refusals (cut-off, online moves used up) and a window that allows no
    earlier day between the cut-off and the booked date."""
    now = now or _now()
    if refusal := selfservice.change_refusal(session=session, action="reschedule", now=now):
        return refusal
    rules = selfservice.move_rules(session=session, now=now)
    if rules is None or rules.first >= session.local_date():
        return "Your appointment is already on the earliest day your treatment plan allows."
    return ""


def live_entries(*, client_id: int) -> dict[int, WaitlistEntry]:
    """session id -> the client's live waitlist entry (one query)."""
    return {
        e.session_id: e
        for e in WaitlistEntry.objects.filter(session__plan__client_id=client_id, status__in=LIVE_WAITLIST)
    }


def _live_entry(session_id: int, *, lock: bool = False) -> WaitlistEntry | None:
    rows = WaitlistEntry.objects.filter(session_id=session_id, status__in=LIVE_WAITLIST)
    return (rows.select_for_update() if lock else rows).first()


@booking.locked_write
def waitlist_join(*, access: ClientAccess, session_id: int) -> WaitlistEntry:
    """Put the client's session on the waitlist. Idempotent: asking twice (a double submit, two
    tabs) returns the entry already there; the partial unique constraint is the last word."""
    session = selfservice.client_session(access=access, session_id=session_id)
    _plan, sessions = booking._lock_plan(session.plan_id)
    locked = next(s for s in sessions if s.pk == session.pk)
    if existing := _live_entry(locked.pk):
        return existing
    if refusal := join_refusal(session=locked):
        raise ClientActionRefused(refusal)
    try:
        with transaction.atomic():
            entry = WaitlistEntry.objects.create(session=locked, requested_at=_now())
    except IntegrityError:
        entry = _live_entry(locked.pk)
        if entry is None:  # pragma: no cover - the constraint named a row that is gone
            raise
        return entry
    log.info("session %s waitlisted by the client (access %s)", locked.pk, access.pk)
    return entry


def _close(entry: WaitlistEntry, status: str, reason: str, now: dt.datetime) -> list[WaitlistOffer]:
    """Close a live entry and withdraw its open offers; the offers withdrawn (their slots may
    go to the next clients)."""
    entry.close(status, reason=reason, now=now)
    entry.save(update_fields=["status", "closed_at", "closed_reason"])
    withdrawn = list(entry.offers.select_for_update().filter(status=OfferStatus.OPEN))
    for offer in withdrawn:
        offer.close(OfferStatus.WITHDRAWN, now=now)
        offer.save(update_fields=["status", "closed_at"])
    return withdrawn


def _reoffer(offers: Iterable[WaitlistOffer], now: dt.datetime) -> list[WaitlistOffer]:
    """The slots of offers that closed without a taker, offered to the next clients."""
    return slot_freed(freed=[_slot_of(o) for o in offers], now=now)


def _slot_of(offer: WaitlistOffer) -> Freed:
    step = dt.timedelta(minutes=scheduling.GRANULARITY_MINUTES)
    return Freed(offer.starts_at, offer.starts_at + step, (offer.practitioner_id,))


@booking.locked_write
def waitlist_leave(*, access: ClientAccess, session_id: int) -> WaitlistEntry | None:
    """The client leaves the waitlist for this session (None when they were not on it: a double
    submit leaves once). Its open offers are withdrawn and go to the next clients."""
    session = selfservice.client_session(access=access, session_id=session_id)
    booking._lock_plan(session.plan_id)
    entry = _live_entry(session.pk, lock=True)
    if entry is None:
        return None
    now = _now()
    _reoffer(_close(entry, WaitlistStatus.WITHDRAWN, "Left the list on their page.", now), now)
    log.info("session %s left the waitlist (access %s)", session.pk, access.pk)
    return entry


@booking.locked_write
def waitlist_remove(*, entry_id: int, by) -> WaitlistEntry | None:
    """Staff take an entry off the list (the client called; the clinic will fit them in)."""
    plan_id = WaitlistEntry.objects.filter(pk=entry_id).values_list("session__plan_id", flat=True).first()
    if plan_id is None:
        return None
    booking._lock_plan(plan_id)
    entry = WaitlistEntry.objects.select_for_update().filter(pk=entry_id, status__in=LIVE_WAITLIST).first()
    if entry is None:
        return None
    now = _now()
    _reoffer(_close(entry, WaitlistStatus.WITHDRAWN, f"Removed by {by}.", now), now)
    log.info("waitlist entry %s removed by %s", entry_id, by)
    return entry


def on_session_cancelled(session: PlanSession, *, practitioner_id: int, starts_at, blocked_until) -> None:
    """Called by booking.session_cancel, in its transaction: the cancelled session leaves the
    list, and the time it held is offered to the waitlist."""
    now = _now()
    if entry := _live_entry(session.pk, lock=True):
        _close(entry, WaitlistStatus.EXPIRED, "The appointment was cancelled.", now)
    slot_freed(freed=[Freed(starts_at, blocked_until, (practitioner_id,))], now=now)


# How far ahead new working hours are offered: never past the last waitlisted appointment.
HOURS_HORIZON = dt.timedelta(days=120)


def hours_added(*, hours, before=None, now: dt.datetime | None = None) -> list[WaitlistOffer]:
    """A practitioner's weekly block was added or changed (`before`: as it was): the wall-clock
    time it adds, on each of its weekdays from now to the last waitlisted appointment."""
    from django.db.models import Max

    now = now or _now()
    last = WaitlistEntry.objects.filter(status__in=LIVE_WAITLIST, session__status=SessionStatus.BOOKED).aggregate(
        last=Max("session__starts_at")
    )["last"]
    if last is None:
        return []
    tz = booking.clinic_tz()
    today = timezone.localtime(now, tz).date()
    end = min(timezone.localtime(last, tz).date(), today + HOURS_HORIZON)
    spans = [(hours.start, hours.end)]
    if before is not None and before.weekday == hours.weekday and before.practitioner_id == hours.practitioner_id:
        spans = [
            (a, b)
            for a, b in ((hours.start, min(hours.end, before.start)), (max(hours.start, before.end), hours.end))
            if a < b
        ]
    freed = [
        Freed(
            scheduling.local_instant(day, a, tz),
            scheduling.local_instant(day, b, tz),
            (hours.practitioner_id,),
        )
        for day in scheduling.daterange(today, end)
        if day.weekday() == hours.weekday
        for a, b in spans
    ]
    return slot_freed(freed=[f for f in freed if f.end > now], now=now)


# --- Offering a freed slot ------------------------------------------------------------------------


def _candidates(freed: Freed, now: dt.datetime) -> list[WaitlistEntry]:
    """Live entries, oldest request first, whose session is booked after the freed time starts and
    whose window opens by the freed span's last day: the only ones the slot could be earlier for."""
    tz = booking.clinic_tz()
    last_day = timezone.localtime(freed.end, tz).date()
    return list(
        WaitlistEntry.objects.filter(
            status__in=LIVE_WAITLIST,
            session__status=SessionStatus.BOOKED,
            session__plan__status=PlanStatus.ACTIVE,
            session__starts_at__gt=freed.start,
            session__earliest__lte=last_day,
        )
        .select_related("session__plan__client")
        .order_by("requested_at", "id")[:SCAN_LIMIT]
    )


def fitting_slot(entry: WaitlistEntry, freed: Freed, now: dt.datetime) -> scheduling.Slot | None:
    """The earliest slot starting inside `freed` that the entry's session may move to: earlier
    than its booking, and fitting every rule a client's own move must keep (MoveRules)."""
    session = entry.session
    rules = selfservice.move_rules(session=session, now=now)
    if rules is None:
        return None
    tz = booking.clinic_tz()
    first = max(rules.first, timezone.localtime(freed.start, tz).date())
    last = min(rules.last, timezone.localtime(freed.end, tz).date(), session.local_date())
    if first > last:
        return None
    availability = rules.availability(first=first, last=last)
    ids = list(freed.practitioner_ids) if freed.practitioner_ids is not None else None

    def inside(slot: scheduling.Slot) -> bool:
        return freed.start <= slot.start < freed.end and slot.start < session.starts_at

    for day in scheduling.daterange(first, last):
        if slot := rules.find(availability, day, practitioner_ids=ids, accept=inside):
            return slot
    return None


def _open_count(practitioner_id: int, starts_at: dt.datetime) -> int:
    return WaitlistOffer.objects.filter(
        practitioner_id=practitioner_id, starts_at=starts_at, status=OfferStatus.OPEN
    ).count()


def slot_freed(*, freed: Sequence[Freed], now: dt.datetime | None = None) -> list[WaitlistOffer]:
    """Offer freed time to the waitlist, in the caller's transaction: for each span, the live
    entries in order of request whose session fits a slot in it, until the slot has
    WAITLIST_OFFERS_AT_ONCE open offers. An entry already offered that slot is skipped (the
    unique constraint), so calling this twice for one freed slot writes and sends nothing more.
    Returns the offers written."""
    now = now or _now()
    at_once = settings.WAITLIST_OFFERS_AT_ONCE
    written: list[WaitlistOffer] = []
    for span in freed:
        for entry in _candidates(span, now):
            slot = fitting_slot(entry, span, now)
            if slot is None or _open_count(slot.practitioner_id, slot.start) >= at_once:
                continue
            if WaitlistOffer.objects.filter(
                entry__session_id=entry.session_id, practitioner_id=slot.practitioner_id, starts_at=slot.start
            ).exists():
                continue  # offered this slot before (maybe in an earlier entry): once per client
            offer = _write_offer(entry, slot, now)
            if offer is not None:
                written.append(offer)
    return written


def _write_offer(entry: WaitlistEntry, slot: scheduling.Slot, now: dt.datetime) -> WaitlistOffer | None:
    try:
        with transaction.atomic():
            offer = WaitlistOffer.objects.create(
                entry=entry,
                practitioner_id=slot.practitioner_id,
                room_id=slot.room_id,
                starts_at=slot.start,
                created_at=now,
                expires_at=now + dt.timedelta(hours=settings.WAITLIST_OFFER_HOURS),
            )
    except IntegrityError:
        return None  # another write offered the same slot to this entry a moment ago
    updated = WaitlistEntry.objects.filter(pk=entry.pk, status=WaitlistStatus.ACTIVE).update(
        status=WaitlistStatus.OFFERED
    )
    if updated:
        entry.status = WaitlistStatus.OFFERED
    on_waitlist_offer(offer)
    log.info("waitlist entry %s offered %s (practitioner %s)", entry.pk, slot.start, slot.practitioner_id)
    return offer


# --- The beat ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    expired_offers: int
    expired_entries: int
    offered: int


def _settle(entry_ids: Iterable[int]) -> None:
    """Entries left with no open offer wait again for the next freed slot."""
    WaitlistEntry.objects.filter(pk__in=list(entry_ids), status=WaitlistStatus.OFFERED).exclude(
        Exists(WaitlistOffer.objects.filter(entry=OuterRef("pk"), status=OfferStatus.OPEN))
    ).update(status=WaitlistStatus.ACTIVE)


def waitlist_sweep(*, now: dt.datetime | None = None) -> SweepResult:
    """Run by beat: offers past their time expire and their slots go to the next clients;
    entries whose session can no longer move earlier (cancelled, moved by the clinic past the
    point, inside the cut-off) leave the list. Safe to run twice, or on two beats at once:
    rows are claimed with SKIP LOCKED and offering is idempotent."""
    now = now or _now()
    with transaction.atomic():
        due = list(
            WaitlistOffer.objects.select_for_update(skip_locked=True).filter(
                status=OfferStatus.OPEN, expires_at__lte=now
            )
        )
        for offer in due:
            offer.close(OfferStatus.EXPIRED, now=now)
            offer.save(update_fields=["status", "closed_at"])
        _settle({o.entry_id for o in due})
        cutoff = now + dt.timedelta(hours=settings.CANCELLATION_CUTOFF_HOURS)
        stale = list(
            WaitlistEntry.objects.select_for_update(skip_locked=True, of=("self",)).filter(
                ~Q(session__status=SessionStatus.BOOKED)
                | Q(session__starts_at__lte=cutoff)
                | ~Q(session__plan__status=PlanStatus.ACTIVE),
                status__in=LIVE_WAITLIST,
            )
        )
        withdrawn: list[WaitlistOffer] = []
        for entry in stale:
            withdrawn += _close(entry, WaitlistStatus.EXPIRED, "The appointment can no longer move earlier.", now)
        offered = _reoffer([*due, *withdrawn], now)
    if due or stale or offered:
        log.info("waitlist sweep: %d offers expired, %d entries closed, %d offered", len(due), len(stale), len(offered))
    return SweepResult(len(due), len(stale), len(offered))


# --- Taking an offer -------------------------------------------------------------------------------


def offer_read(*, token: str) -> WaitlistOffer:
    """The offer an email's link names; BadLink with words for the client otherwise."""
    target = read_token(token, "offer")
    kind = target.message.kind
    offer_id = kind.removeprefix(MessageKind.WAITLIST_OFFER_PREFIX)
    if not kind.startswith(MessageKind.WAITLIST_OFFER_PREFIX) or not offer_id.isdigit():
        raise BadLink("This link does not match any of your appointments.")
    offer = (
        WaitlistOffer.objects.select_related("entry__session__plan__client", "practitioner", "room")
        .filter(pk=int(offer_id), entry__session_id=target.message.session_id)
        .first()
    )
    if offer is None:
        raise BadLink("This link does not match any of your appointments.")
    return offer


def _lose_others(offer: WaitlistOffer, now: dt.datetime) -> None:
    """The slot is taken: every other open offer of it is lost (their clients stay on the list)."""
    others = list(
        WaitlistOffer.objects.select_for_update()
        .filter(practitioner_id=offer.practitioner_id, starts_at=offer.starts_at, status=OfferStatus.OPEN)
        .exclude(pk=offer.pk)
        .order_by("id")
    )
    for other in others:
        other.close(OfferStatus.LOST, now=now)
        other.save(update_fields=["status", "closed_at"])
    _settle({o.entry_id for o in others})


@dataclass(frozen=True)
class Accepted:
    """What taking an offer did: the session moved, or why not (and whether the client stays on
    the list: someone was quicker, so they keep their place)."""

    session: PlanSession | None
    refusal: str = ""
    kept: bool = False
    taken: bool = False  # another client (or staff) booked the slot first


@booking.locked_write
def offer_accept(*, offer_id: int) -> Accepted:
    """Move the session to the offered slot through the staff reschedule, under the plan's lock
    and the slot's practitioner and room rows. Two clients accepting one slot queue on those
    rows; the second finds its offer lost and stays on the list. A refusal found under the
    locks is recorded (the offer closes) and returned, not raised, so it is kept."""
    offer = WaitlistOffer.objects.select_related("entry__session").get(pk=offer_id)
    _plan, sessions = booking._lock_plan(offer.entry.session.plan_id)
    booking._lock([offer.practitioner_id], [offer.room_id])
    rows = WaitlistOffer.objects.select_for_update(of=("self",)).select_related("practitioner", "room")
    offer = rows.get(pk=offer_id)
    entry = WaitlistEntry.objects.select_for_update().get(pk=offer.entry_id)
    now = _now()
    if refusal := offer.refusal(now=now):
        return Accepted(None, refusal, kept=entry.is_live, taken=offer.status == OfferStatus.LOST)
    if not entry.is_live:
        return Accepted(None, "You are no longer on the waitlist for this appointment.")
    session = next(s for s in sessions if s.pk == entry.session_id)
    refusal = selfservice.change_refusal(session=session, action="reschedule", now=now)
    if refusal or not _still_fits(offer, session, now):
        _refuse(offer, now)
        return Accepted(None, refusal or "This slot no longer fits your treatment plan.", kept=True)
    try:
        with transaction.atomic():
            moved = booking.session_reschedule(
                session=session, starts_at=offer.starts_at, practitioner=offer.practitioner, room=offer.room, by=None
            )
            selfservice.count_client_move(
                moved[0], before=session, how="Moved by the client: took a waitlist offer", from_page=False
            )
    except booking.SlotTaken:
        # Booked by someone else (staff, another client) since it was offered.
        _refuse(offer, now, OfferStatus.LOST)
        _lose_others(offer, now)
        return Accepted(None, "Someone else took this slot first.", kept=True, taken=True)
    except booking.BookingError as exc:
        _refuse(offer, now)
        return Accepted(None, f"This slot can no longer be booked: {exc}", kept=True)
    offer.close(OfferStatus.ACCEPTED, now=now)
    offer.save(update_fields=["status", "closed_at"])
    _lose_others(offer, now)
    entry = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
    # Its old time was offered to the next clients on the list by the reschedule itself.
    _reoffer(_close(entry, WaitlistStatus.BOOKED, "Took an earlier slot.", now), now)
    log.info("waitlist offer %s accepted: session %s moved", offer.pk, moved[0].pk)
    return Accepted(moved[0])


def _refuse(offer: WaitlistOffer, now: dt.datetime, status: str = OfferStatus.WITHDRAWN) -> None:
    offer.close(status, now=now)
    offer.save(update_fields=["status", "closed_at"])
    _settle([offer.entry_id])


def _still_fits(offer: WaitlistOffer, session: PlanSession, now: dt.datetime) -> bool:
    """The slot still fits the session's plan as it is now (a session moved meanwhile), by the same
    check that offered it; availability and bookings are the reschedule's to check under the locks."""
    rules = selfservice.move_rules(session=session, now=now)
    if rules is None or offer.starts_at >= session.starts_at:
        return False
    end = offer.starts_at + dt.timedelta(minutes=session.duration_minutes)
    slot = scheduling.Slot(
        offer.practitioner_id,
        offer.room_id,
        offer.starts_at,
        end,
        end + dt.timedelta(minutes=session.buffer_minutes),
    )
    return rules.accepts(slot)
