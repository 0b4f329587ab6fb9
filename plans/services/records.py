"""The clinical record after the visit: addenda to a signed treatment record, adverse events
and the hold they put on a client's plans, and lot recalls.

Signing a record off is booking.session_complete (it completes the session). Adverse-event
writes lock the client's plans in booking's one order (`_lock_plan`, plan by plan in id order)
inside `locked_write`, so an event that holds a plan and a booking of that plan queue on the
plan row: the booking sees the hold, or the hold comes after it.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from plans.models import (
    AdverseEvent,
    AdverseEventType,
    Client,
    IllegalTransition,
    Lot,
    PlanSession,
    RecordAddendum,
    Severity,
    TreatmentPlan,
    TreatmentRecord,
)
from plans.services import booking
from plans.services.booking import BookingError, _lock_plan, locked_write
from plans.services.safety import require_clinician

log = logging.getLogger(__name__)


# --- Addenda ------------------------------------------------------------------------------------


def record_addendum_add(*, record: TreatmentRecord, text: str, by: AbstractBaseUser) -> RecordAddendum:
    """A correction or addition to a signed record; the record itself is never edited."""
    if not text.strip():
        raise BookingError("Write the correction or addition.", code="invalid")
    addendum = RecordAddendum.objects.create(record=record, text=text.strip()[:5000], by=by, at=booking._now())
    log.info("addendum %s to record %s by %s", addendum.pk, record.pk, by)
    return addendum


# --- Adverse events and the hold ------------------------------------------------------------------


def _lock_client_plans(client_id: int) -> None:
    """Every plan of the client, each in the one order (plan, then its sessions), plans by id."""
    for plan_id in TreatmentPlan.objects.filter(client_id=client_id).order_by("id").values_list("id", flat=True):
        _lock_plan(plan_id)


def _sync_hold(client_id: int) -> bool:
    """Set the client's plans' adverse_event_hold from their events (the plan row answers every session's actions)."""
    holding = AdverseEvent.objects.filter(client_id=client_id).holding().exists()
    TreatmentPlan.objects.filter(client_id=client_id).exclude(adverse_event_hold=holding).update(
        adverse_event_hold=holding
    )
    return holding


def _check_dates(*, onset_on: dt.date, follow_up_on: dt.date | None, today: dt.date) -> None:
    if onset_on > today:
        raise BookingError("The onset cannot be in the future.", code="invalid")
    if follow_up_on is not None and follow_up_on < onset_on:
        raise BookingError("The follow-up cannot be before the onset.", code="invalid")


def _event_create(*, session: PlanSession | None, **fields) -> AdverseEvent:
    """The one place an event is written: it carries its session's plan, which the outcomes
    report and the plan preview's evidence count by."""
    return AdverseEvent.objects.create(session=session, plan_id=session.plan_id if session else None, **fields)


@locked_write
def adverse_event_record(
    *,
    client: Client,
    type: str,
    severity: str,
    onset_on: dt.date,
    description: str,
    by: AbstractBaseUser,
    session: PlanSession | None = None,
    action_taken: str = "",
    follow_up_on: dt.date | None = None,
) -> AdverseEvent:
    """Record a reaction or complication. A moderate or severe one holds the client's plans."""
    now = booking._now()
    if type not in AdverseEventType.values or severity not in Severity.values:
        raise BookingError("Choose the type and the severity.", code="invalid")
    if not description.strip():
        raise BookingError("Describe what was seen.", code="invalid")
    if session is not None and session.plan.client_id != client.pk:
        raise BookingError("That session belongs to another client.", code="invalid")
    _check_dates(onset_on=onset_on, follow_up_on=follow_up_on, today=timezone.localdate(now))
    _lock_client_plans(client.pk)
    event = _event_create(
        client=client,
        session=session,
        type=type,
        severity=severity,
        onset_on=onset_on,
        description=description.strip(),
        action_taken=action_taken.strip(),
        follow_up_on=follow_up_on,
        recorded_by=by,
        recorded_at=now,
    )
    _sync_hold(client.pk)
    log.info("adverse event %s (%s) for client %s by %s", event.pk, severity, client.pk, by)
    return event


def adverse_event_from_check(*, session: PlanSession, severity: str, by, now: dt.datetime) -> AdverseEvent:
    """The PIH an assessment visit found, as an adverse event. Runs inside session_complete,
    whose transaction already holds the session's plan."""
    client_id = session.plan.client_id
    _lock_client_plans(client_id)
    event = _event_create(
        client_id=client_id,
        session=session,
        type=AdverseEventType.PIH,
        severity=severity,
        onset_on=timezone.localdate(now),
        description=f"Found at the {session.title}.",
        recorded_by=by,
        recorded_at=now,
    )
    _sync_hold(client_id)
    return event


@locked_write
def adverse_event_clear(*, event: AdverseEvent, note: str, by: AbstractBaseUser) -> AdverseEvent:
    """A clinician clears the event for further microneedling, saying why; the hold lifts
    once no other event holds the client's plans."""
    require_clinician(by, "only a clinician clears an adverse event for further treatment.")
    _lock_client_plans(event.client_id)
    event = AdverseEvent.objects.select_for_update().get(pk=event.pk)
    event.clear(by=by, note=note, now=booking._now())
    event.save()
    _sync_hold(event.client_id)
    log.info("adverse event %s cleared by %s", event.pk, by)
    return event


@locked_write
def adverse_event_resolve(*, event: AdverseEvent, on: dt.date, by: AbstractBaseUser) -> AdverseEvent:
    """The date the reaction resolved. Resolving does not clear a hold: a clinician does."""
    event = AdverseEvent.objects.select_for_update().get(pk=event.pk)
    if on > timezone.localdate(booking._now()):
        raise BookingError("The resolution date cannot be in the future.", code="invalid")
    event.resolve(on=on)
    event.save()
    log.info("adverse event %s resolved by %s", event.pk, by)
    return event


# --- Lot recall -------------------------------------------------------------------------------------


def lot_recall(*, lot: Lot, reason: str, by: AbstractBaseUser) -> Lot:
    """Mark a lot recalled: sign-off refuses it from now on (booking._require_usable_kit re-reads it)."""
    with transaction.atomic():
        lot = Lot.objects.select_for_update().get(pk=lot.pk)
        try:
            lot.recall(by=by, reason=reason, now=booking._now())
        except IllegalTransition as exc:
            raise BookingError(str(exc), code=exc.code) from exc
        lot.save(update_fields=["recalled_at", "recalled_by", "recall_reason"])
    log.info("lot %s recalled by %s", lot.pk, by)
    return lot
