"""Writing outbox rows: which emails a booking, reschedule, cancellation or completion causes.

Called by the booking services inside their transaction; nothing here publishes to the
broker (the sweep does, from the committed rows), so a rolled-back booking leaves no rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Q

from plans.models import (
    ConsentKind,
    Message,
    MessageKind,
    MessageStatus,
    PlanSession,
    ScoreMoment,
    SessionKind,
    SessionStatus,
    SignedConsent,
)
from plans.outbox import kinds, timing
from plans.services.outcomes import questionnaire_open

OPEN = (MessageStatus.PENDING, MessageStatus.SENDING)


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
        if covers is not None:
            message.covers_sessions = covers  # a confirmation lists what this booking booked
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
        (MessageKind.reminder(hours_before), timing.reminder_send_at(session.starts_at, hours_before))
        for hours_before in (r.hours_before for r in session.plan.params.reminder_leads_longest_first)
    ]
    if session.kind == SessionKind.MICRONEEDLING:
        # Booked too late for a note's day: nothing separate, the pre-care reminder lists it.
        timed += [
            (MessageKind.pre_care(n.id), timing.pre_care_send_at(session.starts_at, n.offset_days))
            for n in timing.early_pre_care_notes(session)
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
    now = timing.now()
    created: list[Message] = []
    by_plan: dict[int, list[PlanSession]] = {}
    for session in sessions:
        _require(session, SessionStatus.BOOKED)
        by_plan.setdefault(session.plan_id, []).append(session)
    for batch in by_plan.values():
        batch.sort(key=lambda s: s.starts_at)
        anchor = batch[0]
        # rearm_closed: a cancelled session booked again has a raised version, so what was sent or
        # cancelled for its old booking is written anew for this one; a second call of this hook
        # for the same booking (same version) writes nothing more.
        created.append(
            _schedule(anchor, MessageKind.CONFIRMATION, now, covers=[s.pk for s in batch], rearm_closed=True)
        )
        for session in batch:
            _schedule_reminders(session, now, rearm_closed=True)
        if request := _consent_request(batch, now):
            created.append(request)
        first = next((s for s in batch if s.kind == SessionKind.MICRONEEDLING and s.mn_number == 1), None)
        if first and (
            questionnaire := _questionnaire(
                first,
                ScoreMoment.BASELINE,
                timing.baseline_questionnaire_send_at(first.starts_at, now),
                rearm_closed=True,
            )
        ):
            created.append(questionnaire)
    return created


def _questionnaire(
    session: PlanSession, moment: str, send_at: dt.datetime, *, rearm_closed: bool = False
) -> Message | None:
    """The client's outcome questionnaire for `moment`, and its response row in the same
    transaction (the link names the row). Only for a client who can be emailed: nobody else
    could open it."""
    if _not_emailable_reason(session):
        return None
    questionnaire_open(plan=session.plan, moment=moment)
    return _schedule(session, MessageKind.questionnaire(moment), send_at, rearm_closed=rearm_closed)


def _consent_request(batch: list[PlanSession], now: dt.datetime) -> Message | None:
    """Booking the first microneedling session of a client without a treatment consent in force
    asks them to sign it at home (they can still sign on the clinic's tablet on the day)."""
    first = next((s for s in batch if s.kind == SessionKind.MICRONEEDLING and s.mn_number == 1), None)
    if first is None:
        return None
    if SignedConsent.objects.current(client_id=first.plan.client_id, kind=ConsentKind.TREATMENT):
        return None
    return _schedule(first, MessageKind.CONSENT_REQUEST, now, rearm_closed=True)


def on_session_rescheduled(session: PlanSession) -> None:
    """The session moved (its version was raised): re-time its reminders and announce the new time."""
    _require(session, SessionStatus.BOOKED)
    now = timing.now()
    rows = list(Message.objects.select_for_update().filter(session=session))
    if any(m.session_version >= session.version for m in rows):
        # Without a new version the update email and the calendar SEQUENCE would not change.
        raise ValueError(f"Session {session.pk} was rescheduled without raising its version (still {session.version}).")
    _cancel_open(
        (m for m in rows if m.family == kinds.UPDATE and m.session_version != session.version),
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
    _retime_baseline_questionnaire(session, now)


def _retime_baseline_questionnaire(session: PlanSession, now: dt.datetime) -> None:
    """Session 1 moved: its questionnaire, if not sent yet, follows it (a few days before)."""
    if not (session.kind == SessionKind.MICRONEEDLING and session.mn_number == 1):
        return
    kind = MessageKind.questionnaire(ScoreMoment.BASELINE)
    message = (
        Message.objects.select_for_update().filter(session=session, kind=kind, status=MessageStatus.PENDING).first()
    )
    if message is not None:
        message.rearm(send_at=timing.baseline_questionnaire_send_at(session.starts_at, now), version=session.version)
        message.save()


def on_session_cancelled(session: PlanSession) -> None:
    """Cancel everything still to be sent about the session and send a cancellation notice."""
    _require(session, SessionStatus.CANCELLED)
    rows = Message.objects.select_for_update().filter(session=session, status__in=OPEN)
    _cancel_open(
        # A confirmation listing other sessions booked with this one still has news for the client.
        (m for m in rows if not (m.kind == MessageKind.CONFIRMATION and _other_covered_booked(m, session))),
        "The session was cancelled.",
    )
    _schedule(session, MessageKind.CANCELLATION, timing.now(), rearm_closed=True)


def _other_covered_booked(message: Message, session: PlanSession) -> bool:
    others = [pk for pk in message.covers_sessions if pk != session.pk]
    return PlanSession.objects.filter(pk__in=others, status=SessionStatus.BOOKED).exists()


def on_session_completed(session: PlanSession) -> None:
    """After a session: no more reminders for it; post-care notes on the protocol's schedule;
    after the last microneedling session, the follow-up assessment invitation."""
    _require(session, SessionStatus.COMPLETED)
    now = timing.now()
    _cancel_open(
        Message.objects.select_for_update().filter(
            Q(kind__startswith=MessageKind.REMINDER_PREFIX) | Q(kind__startswith=MessageKind.PRE_CARE_PREFIX),
            session=session,
        ),
        "The session took place.",
    )
    if session.kind == SessionKind.MICRONEEDLING:
        for note in session.plan.params.care_notes_for("post"):
            _schedule(session, MessageKind.care(note.id), timing.care_note_send_at(session, note.offset_days, now))
    if timing.is_last_microneedling(session):
        _schedule(session, MessageKind.FOLLOW_UP_INVITE, now)
        _questionnaire(session, ScoreMoment.ASSESSMENT, timing.assessment_questionnaire_send_at(session, now))


def on_waitlist_offer(offer) -> Message:
    """A freed slot was offered to a waitlisted client (in the transaction that freed it): the
    email that carries the link to take it. One row per offer, so an offer is emailed once."""
    return _schedule(offer.entry.session, MessageKind.waitlist_offer(offer.pk), timing.now())
