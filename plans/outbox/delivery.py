"""Delivering outbox rows exactly once: the sweep, the atomic claim with a lease, sending, recording.

sweep_due(now)          -> ids of due rows; long-overdue rows are marked expired
hand_out(now, limit)    -> the next due rows not already with the broker, marked queued
release(ids)            -> unmark rows the broker refused, so the next sweep hands them out
claim(id, now)          -> conditional UPDATE, True for exactly one caller
claim_batch(ids, now)   -> the same for a task's batch in one UPDATE: the ids this caller took
deliver(id)             -> claim, re-check the message still stands, render, send, record the attempt
deliver_many(ids)       -> claim the batch, then deliver each over one SMTP connection
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import secrets
import smtplib
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from plans.models import DeliveryAttempt, Message, MessageStatus
from plans.outbox import kinds, render, timing
from plans.services.selfservice import client_page_urls

log = logging.getLogger(__name__)


def _takeable(now: dt.datetime) -> Q:
    """Rows a worker may take: pending, or sending under a lease that ran out (the worker died)."""
    return Q(status=MessageStatus.PENDING) | Q(status=MessageStatus.SENDING, lease_until__lt=now)


def sweep_due(now: dt.datetime | None = None, *, limit: int = 500) -> list[int]:
    """Ids of rows due now (pending, or sending with an expired lease), after expiring the
    long-overdue ones. Marks nothing: staff pages and tests ask what is due."""
    now = now or timing.now()
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
    out is skipped by the next sweeps instead of being queued again while it waits its turn.
    The mark is a lease of NOTIFICATIONS_REQUEUE_SECONDS (the task time limit): if the broker
    loses the task, or a killed worker held it among its reserved tasks, the row is handed out
    again once the lease ends. A duplicate task (a burst still queued after that long) is
    harmless because only the claim winner sends. SKIP LOCKED keeps two overlapping sweeps
    from handing out the same rows, and skips a row being sent right now.
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
    now = now or timing.now()
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


def claim_batch(message_ids: Sequence[int], now: dt.datetime, *, token: str) -> list[int]:
    """Take a task's rows for sending: one conditional UPDATE, then the ids it took (in the order
    given). Row by row it is `claim`: two workers handed the same ids take disjoint sets.

    The leases all start now, so a batch must send within NOTIFICATIONS_LEASE_SECONDS; if one
    ran out first and another worker took the row over, our token no longer matches when we
    lock the row and we skip it: one of us sends, never both.
    """
    lease_until = now + dt.timedelta(seconds=settings.NOTIFICATIONS_LEASE_SECONDS)
    Message.objects.filter(_takeable(now), pk__in=list(message_ids), send_at__lte=now).update(
        status=MessageStatus.SENDING,
        lease_until=lease_until,
        queued_at=None,
        claim_token=token,
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    taken = set(
        Message.objects.filter(pk__in=list(message_ids), status=MessageStatus.SENDING, claim_token=token).values_list(
            "id", flat=True
        )
    )
    return [i for i in message_ids if i in taken]


def unclaim(message_ids: Sequence[int], token: str) -> None:
    """Give back rows we claimed but did not try (the server said 'later' to the one before):
    pending again at once, their attempt not counted, for the next sweep to hand out."""
    Message.objects.filter(pk__in=list(message_ids), status=MessageStatus.SENDING, claim_token=token).update(
        status=MessageStatus.PENDING,
        lease_until=None,
        queued_at=None,
        claim_token="",
        attempts=F("attempts") - 1,
        updated_at=timing.now(),
    )


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


def _record(message: Message, apply, *, attempt: dict | None = None) -> None:
    """Apply the outcome to a row we hold locked, with the attempt it came from."""
    if attempt is not None:
        DeliveryAttempt.objects.create(message=message, **attempt)
    apply(message)
    message.save()


def _finish(message_id: int, token: str, apply, *, attempt: dict | None = None) -> bool:
    """Record the outcome if we still hold the lease; the attempt is recorded either way."""
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message_id)
        if message.status != MessageStatus.SENDING or message.claim_token != token:
            # Re-timed by a reschedule (or taken over after our lease ran out) while we worked.
            if attempt is not None:
                DeliveryAttempt.objects.create(message=message, **attempt)
            return False
        _record(message, apply, attempt=attempt)
        return True


def _failure(message: Message, exc: BaseException, *, permanent: bool, code: int | None) -> str:
    """Record a failed send on the locked row: back off, or give up as failed."""
    error = f"{type(exc).__name__}: {exc}"[:2000]
    log.warning("Message %s attempt %s failed (%s): %s", message.pk, message.attempts, code, error)
    give_up = permanent or message.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS
    failed_at = timing.now()

    def after_error(m: Message) -> None:
        if give_up:
            m.mark_failed(error)
        else:
            m.retry_at(failed_at + backoff_delay(m.attempts), error)

    attempt = {"attempted_at": failed_at, "succeeded": False, "permanent": permanent, "error": error, "smtp_code": code}
    _record(message, after_error, attempt=attempt)
    return "failed" if give_up else "retry"


def _batch_connection():
    """One backend for the whole batch when it holds a network connection worth reusing (SMTP:
    a morning burst otherwise pays a TCP and SMTP handshake per email); None otherwise, so
    each email opens its own (the file backend writes one file per email, as staff expect).
    Only the SMTP backend has a connection to keep: the file, console, locmem and dummy ones do not.
    """
    from django.core.mail import get_connection
    from django.core.mail.backends.smtp import EmailBackend as SMTPBackend

    connection = get_connection()
    return connection if isinstance(connection, SMTPBackend) else None


def deliver_many(message_ids: Sequence[int]) -> dict[int, str]:
    """Deliver a task's batch: claimed in one statement, the client page links read in one, then
    each row checked, sent and recorded on its own, over one SMTP connection when the backend is
    SMTP. Each email's outcome commits as soon as it is sent, so a worker killed mid-batch resends
    at most the one email in flight; the rest of its batch was never sent and goes out once, when
    their leases end.

    After a transient failure the server is likely down or throttling us: the rest of the
    batch is given back for the next sweep rather than each waiting out its own timeout.
    """
    now = timing.now()
    token = secrets.token_hex(16)
    claimed = claim_batch(message_ids, now, token=token)
    # Taken by another worker (a duplicate task), sent already, or no longer due.
    outcomes: dict[int, str] = {i: "not-claimed" for i in message_ids if i not in set(claimed)}
    if not claimed:
        return outcomes
    pages = client_page_urls(Message.objects.filter(pk__in=claimed).values_list("client_id", flat=True), now=now)
    connection = _batch_connection()
    try:
        for i, message_id in enumerate(claimed):
            if connection is not None:
                # Opened here, the backend keeps it open across sends (it closes one it opened
                # itself); a no-op while open. If the server is down, the send reports it.
                with contextlib.suppress(Exception):
                    connection.open()
            outcomes[message_id] = _deliver_claimed(message_id, token, connection=connection, pages=pages)
            if outcomes[message_id] == "retry":
                unclaim(claimed[i + 1 :], token)
                break
    finally:
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()
    return outcomes


def _locked_claimed(message_id: int, token: str) -> Message | None:
    """The row, locked, if our claim still holds (a cancel or reschedule may have come first)."""
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("client", "session__plan", "intake")
        .filter(pk=message_id, status=MessageStatus.SENDING, claim_token=token)
        .first()
    )
    if message is not None and message.session_id and message.session.plan.client_id == message.client_id:
        # The invitation names the plan's client: the one already loaded, not a second read.
        message.session.plan.client = message.client
    return message


def _send(message: Message, now: dt.datetime, connection, *, client_page: str | None = None) -> str:
    """Render and send the locked row, and record what happened on it."""
    header_id = message_id_header(message)
    try:
        email = render.build_email(message, now=now, message_id=header_id, client_page=client_page)
    except Exception as exc:
        # A template or snapshot problem: retrying renders the same error, so staff must look.
        log.exception("Message %s could not be rendered", message.pk)
        return _failure(message, exc, permanent=True, code=None)
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
        return _failure(message, exc, permanent=permanent, code=code)
    sent_at = timing.now()
    _record(
        message,
        lambda m: m.mark_sent(at=sent_at, message_id=header_id),
        attempt={"attempted_at": sent_at, "succeeded": True},
    )
    return "sent"


def deliver(message_id: int, *, connection=None) -> str:
    """Claim, re-check, render, send, record one row. Returns what happened (for logs and tests).

    connection: an open-on-demand email backend shared by a batch; None opens one per email.
    """
    token = secrets.token_hex(16)
    if not claim(message_id, timing.now(), token=token):
        return "not-claimed"
    return _deliver_claimed(message_id, token, connection=connection)


def _deliver_claimed(message_id: int, token: str, *, connection=None, pages: dict[int, str] | None = None) -> str:
    """Re-check, render, send and record a row we claimed with `token`.

    From the last check to the recorded outcome the row is locked (SELECT FOR UPDATE): a
    cancel or reschedule arriving mid-send waits the few seconds for it, then finds the email
    sent (and the client gets the cancellation notice after it), instead of marking cancelled
    an email that is already on its way. One that came first makes us stop before sending.
    If the worker dies mid-send the transaction rolls back and the claim's lease runs out.

    pages: client page links read for the whole batch (client id -> URL); a client missing
    from it gets one issued as the email is rendered.
    """
    now = timing.now()
    with transaction.atomic():
        message = _locked_claimed(message_id, token)
        if message is None:
            return "not-claimed"
        if message.attempts > settings.NOTIFICATIONS_MAX_ATTEMPTS:
            # Workers keep dying on this row (lease takeovers count as attempts).
            error = f"Gave up after {settings.NOTIFICATIONS_MAX_ATTEMPTS} attempts without an answer."
            _record(message, lambda m: m.mark_failed(error))
            return "failed"
        if verdict := kinds.why_not_standing(message, now):
            status, reason = verdict
            _record(message, lambda m: m.expire(reason) if status == MessageStatus.EXPIRED else m.cancel(reason))
            return status
        return _send(message, now, connection, client_page=(pages or {}).get(message.client_id))
