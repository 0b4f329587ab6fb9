"""The email outbox: which messages a booking causes, and how each one is delivered exactly once.

Writing (called by the booking services inside their transaction, never publishing to the broker):
    on_sessions_booked, on_session_rescheduled, on_session_cancelled, on_session_completed

Delivering (called by the Celery adapters in tasks.py):
    sweep_due(now)          -> ids of due rows; long-overdue rows are marked expired
    hand_out(now, limit)    -> the next due rows not already with the broker, marked queued
    release(ids)            -> unmark rows the broker refused, so the next sweep hands them out
    claim(id, now)          -> conditional UPDATE, True for exactly one caller
    deliver(id)             -> claim, re-check the session still stands, render, send, record the attempt
    deliver_many(ids)       -> deliver each over one SMTP connection

Every time is an aware UTC datetime; local wall-clock times (reminder leads, care-note
hours) are computed in settings.CLINIC_TIME_ZONE so a daylight-saving change moves
nothing the client reads.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import secrets
import smtplib
import zoneinfo
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from plans.models import (
    DeliveryAttempt,
    Message,
    MessageKind,
    MessageStatus,
    PlanSession,
    PlanStatus,
    SessionKind,
    SessionStatus,
)
from plans.planning import CareNoteParams

log = logging.getLogger(__name__)

OPEN = (MessageStatus.PENDING, MessageStatus.SENDING)


def _now() -> dt.datetime:
    """The clock, in one place so tests can move it with time-machine."""
    return timezone.now()


def clinic_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.CLINIC_TIME_ZONE)


# --- What the protocol snapshot asks for ------------------------------------------------------


def reminder_send_at(starts_at: dt.datetime, hours_before: int) -> dt.datetime:
    """The moment a reminder goes out: the same local wall-clock time, `hours_before` earlier.

    Whole days are counted in the clinic's calendar (a 7-day reminder for a 09:00 session
    goes at 09:00 local even across a clock change); the remaining hours are elapsed time.
    """
    days, hours = divmod(hours_before, 24)
    local = timezone.localtime(starts_at, clinic_zone())
    moved = (local.replace(tzinfo=None) - dt.timedelta(days=days)).replace(tzinfo=clinic_zone())
    return moved.astimezone(dt.UTC) - dt.timedelta(hours=hours)


def care_note_send_at(session: PlanSession, offset_days: int, now: dt.datetime) -> dt.datetime:
    """Day 0 notes go at once; later ones at NOTIFICATIONS_CARE_NOTE_HOUR local on their day."""
    if offset_days <= 0:
        return now
    day = timezone.localtime(session.starts_at, clinic_zone()).date() + dt.timedelta(days=offset_days)
    local = dt.datetime.combine(day, dt.time(settings.NOTIFICATIONS_CARE_NOTE_HOUR), tzinfo=clinic_zone())
    return max(local.astimezone(dt.UTC), now)


def pre_care_send_at(starts_at: dt.datetime, offset_days: int) -> dt.datetime:
    """A pre-care note due `offset_days` (negative) before the session: that day, at the care-note hour."""
    day = timezone.localtime(starts_at, clinic_zone()).date() + dt.timedelta(days=offset_days)
    local = dt.datetime.combine(day, dt.time(settings.NOTIFICATIONS_CARE_NOTE_HOUR), tzinfo=clinic_zone())
    return local.astimezone(dt.UTC)


def early_pre_care_notes(session: PlanSession) -> list[CareNoteParams]:
    """Pre-care notes that must be read before the first reminder carrying pre-care goes out.

    The D−7 reminder lists every pre-care note, but "avoid tanning for 14 days" read at D−7
    is too late to follow, so a note due earlier than that reminder gets its own email.
    """
    params = session.plan.params
    earliest_hours = max((r.hours_before for r in params.reminder_leads if r.include_pre_care), default=0)
    return [n for n in params.care_notes_for("pre") if -n.offset_days * 24 > earliest_hours]


def is_last_microneedling(session: PlanSession) -> bool:
    return session.kind == SessionKind.MICRONEEDLING and session.mn_number == session.plan.params.session_count


# --- Writing rows (inside the caller's transaction) --------------------------------------------


def _not_emailable_reason(session: PlanSession) -> str:
    client = session.plan.client
    if not client.email:
        return "Not sent: the client has no email address."
    if not client.email_consent:
        return "Not sent: the client has not consented to email."
    return ""


def _schedule(
    session: PlanSession,
    kind: str,
    send_at: dt.datetime,
    *,
    rearm_closed: bool = False,
    covers: list[int] | None = None,
) -> Message:
    """Create the (session, kind) row, or re-time the existing one. Never a second row.

    rearm_closed: a row already sent/cancelled/expired for an older session version is
    scheduled again (a reschedule needs a fresh reminder for the new time).
    """
    message = Message.objects.select_for_update().filter(session=session, kind=kind).first()
    if message is None:
        message = Message(
            client_id=session.plan.client_id,
            session=session,
            kind=kind,
            send_at=send_at,
            session_version=session.version,
            covers_sessions=covers or [],
        )
    elif message.is_open or (rearm_closed and message.session_version != session.version):
        message.rearm(send_at=send_at, version=session.version)
    else:
        return message
    if reason := _not_emailable_reason(session):
        message.cancel(reason)
    message.save()
    return message


def _cancel_open(messages: Iterable[Message], reason: str) -> None:
    for message in messages:
        if message.is_open:
            message.cancel(reason)
            message.save(update_fields=["status", "status_reason", "lease_until", "claim_token", "updated_at"])


def _schedule_reminders(session: PlanSession, now: dt.datetime, *, rearm_closed: bool) -> None:
    """The session's reminders and early pre-care notes whose moment is still ahead."""
    existing = {m.kind: m for m in Message.objects.select_for_update().filter(session=session)}
    timed = [
        (MessageKind.reminder(hours_before), reminder_send_at(session.starts_at, hours_before))
        for hours_before in (r.hours_before for r in session.plan.params.reminder_leads_longest_first)
    ]
    if session.kind == SessionKind.MICRONEEDLING:
        # Booked too late for a note's day: nothing separate, the pre-care reminder lists it.
        timed += [
            (MessageKind.pre_care(n.id), pre_care_send_at(session.starts_at, n.offset_days))
            for n in early_pre_care_notes(session)
        ]
    for kind, send_at in timed:
        if send_at > now:
            _schedule(session, kind, send_at, rearm_closed=rearm_closed)
        elif kind in existing:
            # Moved so close that this reminder's moment has passed: the newer ones will do.
            _cancel_open([existing[kind]], "Its moment passed when the session was rescheduled.")


def _require(session: PlanSession, status: str) -> None:
    if session.status != status or (status == SessionStatus.BOOKED and session.starts_at is None):
        raise ValueError(f"Session {session.pk} is {session.status}; this hook expects it {status}.")


def on_sessions_booked(sessions: list[PlanSession]) -> list[Message]:
    """Sessions were just booked (in the caller's transaction): one confirmation per plan listing
    the sessions booked together, and each session's reminders whose moment is still ahead."""
    now = _now()
    created: list[Message] = []
    by_plan: dict[int, list[PlanSession]] = {}
    for session in sessions:
        _require(session, SessionStatus.BOOKED)
        by_plan.setdefault(session.plan_id, []).append(session)
    for batch in by_plan.values():
        batch.sort(key=lambda s: s.starts_at)
        anchor = batch[0]
        created.append(_schedule(anchor, MessageKind.CONFIRMATION, now, covers=[s.pk for s in batch]))
        for session in batch:
            _schedule_reminders(session, now, rearm_closed=False)
    return created


def on_session_rescheduled(session: PlanSession) -> None:
    """The session moved (its version was raised): re-time its reminders and announce the new time."""
    _require(session, SessionStatus.BOOKED)
    now = _now()
    rows = list(Message.objects.select_for_update().filter(session=session))
    if any(m.session_version >= session.version for m in rows):
        # Without a new version the update email and the calendar SEQUENCE would not change.
        raise ValueError(f"Session {session.pk} was rescheduled without raising its version (still {session.version}).")
    _cancel_open(
        (m for m in rows if m.family == "update" and m.session_version != session.version),
        "Superseded by a later reschedule.",
    )
    # A confirmation that has not gone out yet renders the session's current time, so it
    # already tells the client the new time; a separate update would be noise.
    confirmations_pending = Message.objects.filter(
        kind=MessageKind.CONFIRMATION, status__in=OPEN, session__plan_id=session.plan_id
    )
    if not any(session.pk in (m.covers_sessions or [m.session_id]) for m in confirmations_pending):
        _schedule(session, MessageKind.update(session.version), now)
    _schedule_reminders(session, now, rearm_closed=True)


def on_session_cancelled(session: PlanSession) -> None:
    """Cancel everything still to be sent about the session and send a cancellation notice."""
    _require(session, SessionStatus.CANCELLED)
    rows = Message.objects.select_for_update().filter(session=session, status__in=OPEN)
    _cancel_open(
        # A confirmation listing other sessions booked with this one still has news for the client.
        (m for m in rows if not (m.kind == MessageKind.CONFIRMATION and _other_covered_booked(m, session))),
        "The session was cancelled.",
    )
    _schedule(session, MessageKind.CANCELLATION, _now(), rearm_closed=True)


def _other_covered_booked(message: Message, session: PlanSession) -> bool:
    others = [pk for pk in message.covers_sessions if pk != session.pk]
    return PlanSession.objects.filter(pk__in=others, status=SessionStatus.BOOKED).exists()


def on_session_completed(session: PlanSession) -> None:
    """After a session: no more reminders for it; post-care notes on the protocol's schedule;
    after the last microneedling session, the follow-up assessment invitation."""
    _require(session, SessionStatus.COMPLETED)
    now = _now()
    _cancel_open(
        Message.objects.select_for_update().filter(
            Q(kind__startswith=MessageKind.REMINDER_PREFIX) | Q(kind__startswith=MessageKind.PRE_CARE_PREFIX),
            session=session,
        ),
        "The session took place.",
    )
    if session.kind == SessionKind.MICRONEEDLING:
        for note in session.plan.params.care_notes_for("post"):
            _schedule(session, MessageKind.care(note.id), care_note_send_at(session, note.offset_days, now))
    if is_last_microneedling(session):
        _schedule(session, MessageKind.FOLLOW_UP_INVITE, now)


# --- Delivering --------------------------------------------------------------------------------


def _takeable(now: dt.datetime) -> Q:
    """Rows a worker may take: pending, or sending under a lease that ran out (the worker died)."""
    return Q(status=MessageStatus.PENDING) | Q(status=MessageStatus.SENDING, lease_until__lt=now)


def sweep_due(now: dt.datetime | None = None, *, limit: int = 500) -> list[int]:
    """Ids of rows due now (pending, or sending with an expired lease), after expiring the
    long-overdue ones. Marks nothing: staff pages and tests ask what is due."""
    now = now or _now()
    expire_overdue(now)
    due = Message.objects.filter(_takeable(now), send_at__lte=now).order_by("send_at", "id")
    return list(due.values_list("id", flat=True)[:limit])


def expire_overdue(now: dt.datetime) -> int:
    """Rows past the grace period are marked expired: a reminder sent a day late is worse than none."""
    grace = dt.timedelta(minutes=settings.NOTIFICATIONS_GRACE_MINUTES)
    expired = Message.objects.filter(_takeable(now), send_at__lt=now - grace).update(
        status=MessageStatus.EXPIRED,
        status_reason=f"Not sent within {settings.NOTIFICATIONS_GRACE_MINUTES} minutes of its time.",
        lease_until=None,
        claim_token="",
        updated_at=now,
    )
    if expired:
        log.warning("Expired %s message(s) that were overdue beyond the grace period", expired)
    return expired


def hand_out(now: dt.datetime, *, limit: int) -> list[int]:
    """Up to `limit` due rows that are not with the broker already, marked as queued now.

    Marking is what lets one sweep drain a morning burst of thousands of rows: a row handed
    out is skipped by the next sweep (a minute later) instead of being queued again while it
    waits its turn. If the broker loses the task, the row is handed out again after
    NOTIFICATIONS_REQUEUE_SECONDS; a duplicate task is harmless because only the claim winner
    sends. SKIP LOCKED keeps two overlapping sweeps from handing out the same rows.
    """
    requeue_before = now - dt.timedelta(seconds=settings.NOTIFICATIONS_REQUEUE_SECONDS)
    with transaction.atomic():
        ids = list(
            Message.objects.filter(
                _takeable(now),
                Q(queued_at__isnull=True) | Q(queued_at__lt=requeue_before),
                send_at__lte=now,
            )
            .order_by("send_at", "id")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:limit]
        )
        Message.objects.filter(pk__in=ids).update(queued_at=now)
    return ids


def release(message_ids: Iterable[int]) -> None:
    """The broker did not take these: clear the mark so the next sweep hands them out at once."""
    Message.objects.filter(pk__in=list(message_ids)).update(queued_at=None)


def claim(message_id: int, now: dt.datetime | None = None, *, token: str = "") -> bool:
    """Take the row for sending. One conditional UPDATE: exactly one caller gets True."""
    now = now or _now()
    lease_until = now + dt.timedelta(seconds=settings.NOTIFICATIONS_LEASE_SECONDS)
    updated = Message.objects.filter(_takeable(now), pk=message_id, send_at__lte=now).update(
        status=MessageStatus.SENDING,
        lease_until=lease_until,
        # From here the lease decides when another worker may take it, not the queue mark.
        queued_at=None,
        claim_token=token or secrets.token_hex(16),
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    return updated == 1


def _why_not_standing(message: Message, now: dt.datetime) -> tuple[str, str] | None:
    """(status, reason) when the message must not go out any more, else None."""
    session = message.session
    family = message.family
    if not message.client.can_be_emailed:
        return MessageStatus.CANCELLED, "The client no longer accepts email (or has no address)."
    if now > message.send_at + dt.timedelta(minutes=settings.NOTIFICATIONS_GRACE_MINUTES):
        return MessageStatus.EXPIRED, f"Not sent within {settings.NOTIFICATIONS_GRACE_MINUTES} minutes of its time."
    if family == MessageKind.CONFIRMATION:
        covered = message.covers_sessions or [session.pk]
        if not PlanSession.objects.filter(pk__in=covered, status=SessionStatus.BOOKED, starts_at__gt=now).exists():
            return MessageStatus.CANCELLED, "None of the sessions it confirms is still booked."
    elif family in ("reminder", "update", "precare"):
        if session.status != SessionStatus.BOOKED:
            return MessageStatus.CANCELLED, f"The session is {session.get_status_display().lower()}."
        if session.version != message.session_version:
            return MessageStatus.CANCELLED, "The session was rescheduled after this was written."
        if session.starts_at <= now:
            return MessageStatus.EXPIRED, "The session has already started."
    elif family == "cancellation":
        if session.status != SessionStatus.CANCELLED:
            return MessageStatus.CANCELLED, "The session is no longer cancelled."
    elif family == "care":
        if session.status != SessionStatus.COMPLETED:
            return MessageStatus.CANCELLED, "The session is not recorded as completed."
    elif family == MessageKind.FOLLOW_UP_INVITE and session.plan.status == PlanStatus.CANCELLED:
        return MessageStatus.CANCELLED, "The plan was cancelled."
    return None


def classify_error(exc: BaseException) -> tuple[bool, int | None]:
    """(permanent, smtp_code). Recipient refused and other 5xx replies will not heal by retrying;
    4xx replies, timeouts and dropped connections usually do."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return all(500 <= code < 600 for code in codes), (codes[0] if codes else None)
    if isinstance(exc, smtplib.SMTPResponseException):
        return 500 <= exc.smtp_code < 600, exc.smtp_code
    return False, None


def backoff_delay(attempts: int) -> dt.timedelta:
    seconds = settings.NOTIFICATIONS_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)
    return dt.timedelta(seconds=min(seconds, settings.NOTIFICATIONS_BACKOFF_MAX_SECONDS))


def message_id_header(message: Message) -> str:
    """Deterministic per row and session version: a retry of the same email carries the same id,
    so a duplicate from the narrow crash window is recognisable; a rescheduled reminder differs."""
    return f"<msg-{message.pk}-v{message.session_version}@{settings.NOTIFICATIONS_DOMAIN}>"


def _finish(message_id: int, token: str, apply, *, attempt: dict | None = None) -> bool:
    """Record the outcome if we still hold the lease; the attempt is recorded either way."""
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message_id)
        if attempt is not None:
            DeliveryAttempt.objects.create(message=message, **attempt)
        if message.status != MessageStatus.SENDING or message.claim_token != token:
            # Re-timed by a reschedule (or taken over after our lease ran out) while we worked.
            return False
        apply(message)
        message.save()
        return True


def _record_failure(message: Message, token: str, exc: BaseException, *, permanent: bool, code: int | None) -> str:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    log.warning("Message %s attempt %s failed (%s): %s", message.pk, message.attempts, code, error)
    give_up = permanent or message.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS
    failed_at = _now()

    def after_error(m: Message) -> None:
        if give_up:
            m.mark_failed(error)
        else:
            m.retry_at(failed_at + backoff_delay(m.attempts), error)

    attempt = {"attempted_at": failed_at, "succeeded": False, "permanent": permanent, "error": error, "smtp_code": code}
    _finish(message.pk, token, after_error, attempt=attempt)
    return "failed" if give_up else "retry"


def deliver_many(message_ids: Sequence[int]) -> dict[int, str]:
    """Deliver each row over one SMTP connection (a morning burst otherwise pays a TCP and
    SMTP handshake per email). Each row is still claimed, checked and recorded on its own.

    After a transient failure the server is likely down or throttling us: the rest of the
    batch is released for the next sweep rather than each waiting out its own timeout.
    """
    from django.core.mail import get_connection

    outcomes: dict[int, str] = {}
    connection = get_connection()
    try:
        for i, message_id in enumerate(message_ids):
            if connection.connection is None:
                # Opened here, the backend keeps it open across sends (it closes one it opened itself).
                # If the server is down, the send below reports it and the row backs off.
                with contextlib.suppress(Exception):
                    connection.open()
            outcomes[message_id] = deliver(message_id, connection=connection)
            if outcomes[message_id] == "retry":
                release(message_ids[i + 1 :])
                break
    finally:
        with contextlib.suppress(Exception):
            connection.close()
    return outcomes


def deliver(message_id: int, *, connection=None) -> str:
    """Claim, re-check, render, send, record. Returns what happened (for logs and tests).

    connection: an open-on-demand email backend shared by a batch; None opens one per email.
    """
    from plans import emails  # rendering pulls in templates and icalendar; only workers need it

    now = _now()
    token = secrets.token_hex(16)
    if not claim(message_id, now, token=token):
        return "not-claimed"
    message = Message.objects.select_related("client", "session__plan").get(pk=message_id)

    if message.attempts > settings.NOTIFICATIONS_MAX_ATTEMPTS:
        # Workers keep dying on this row (lease takeovers count as attempts).
        error = f"Gave up after {settings.NOTIFICATIONS_MAX_ATTEMPTS} attempts without an answer."
        _finish(message_id, token, lambda m: m.mark_failed(error))
        return "failed"

    if verdict := _why_not_standing(message, now):
        status, reason = verdict
        _finish(message_id, token, lambda m: m.expire(reason) if status == MessageStatus.EXPIRED else m.cancel(reason))
        return status

    header_id = message_id_header(message)
    try:
        email = emails.build_email(message, now=now, message_id=header_id)
    except Exception as exc:
        # A template or snapshot problem: retrying renders the same error, so staff must look.
        log.exception("Message %s could not be rendered", message_id)
        return _record_failure(message, token, exc, permanent=True, code=None)
    if connection is not None:
        email.connection = connection
    try:
        email.send(fail_silently=False)
    except Exception as exc:
        if connection is not None:
            # The connection may be half-broken; the next email of the batch opens a fresh one.
            with contextlib.suppress(Exception):
                connection.close()
        # Anything but a definite 5xx (timeouts, dropped connections, 4xx, the task's soft
        # time limit) may heal: back off and try again.
        permanent, code = classify_error(exc)
        return _record_failure(message, token, exc, permanent=permanent, code=code)

    sent_at = _now()

    _finish(
        message_id,
        token,
        lambda m: m.mark_sent(at=sent_at, message_id=header_id),
        attempt={"attempted_at": sent_at, "succeeded": True},
    )
    return "sent"
