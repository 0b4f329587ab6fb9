"""Treatment plans: preview (no writes), create and recompute, around the pure engine in plans.planning.

Reads are selectors (protocol_params_active, client_profile); every write is a service
function with keyword-only arguments that runs in one transaction with a constant
number of queries, whatever the number of sessions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, Subquery
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from plans import planning
from plans.cohorts import Cohort
from plans.models import (
    Client,
    ContraindicationRule,
    PlanSession,
    Protocol,
    ReviewSignoff,
    SafetyException,
    ScreeningAnswer,
    TreatmentPlan,
    floor_with,
)
from plans.safety import Floor
from plans.selectors import client_current_screening_id


class PlanRefused(Exception):
    """The engine's proposal cannot become a plan; `proposal` says why."""

    def __init__(self, message: str, proposal: planning.PlanProposal | None = None):
        super().__init__(message)
        self.proposal = proposal


class PlanHardStop(PlanRefused):
    pass


class NoMatchingProtocol(PlanRefused):
    pass


class NoScreening(PlanRefused):
    """The client has never been screened: every contraindication, hard stops included, is unknown."""


class PlanLocked(Exception):
    """A plan with booked or completed sessions is changed by rescheduling, never regenerated."""


# --- Selectors --------------------------------------------------------------------------------


def protocol_to_params(protocol: Protocol) -> planning.ProtocolParams:
    """One protocol (with its inlines prefetched) as engine data (the mapping: planning.protocol_params_from)."""
    return planning.protocol_params_from(
        protocol,
        id=protocol.pk,
        active=protocol.active,
        zones=protocol.zone_caps,
        contraindications=(
            planning.ContraindicationParams(
                question_code=rule.question.code,
                action=rule.action,
                question_text=rule.question.text,
                window_amount=rule.window_amount,
                window_unit=rule.window_unit or "",
                explanation=rule.explanation,
            )
            for rule in protocol.contraindications.all()
        ),
        combinations=(
            planning.combination_params_from(c, id=c.pk, position=c.position) for c in protocol.combinations.all()
        ),
        care_notes=(
            planning.CareNoteParams(id=n.pk, phase=n.phase, offset_days=n.offset_days, subject=n.subject, body=n.body)
            for n in protocol.care_notes.all()
        ),
        reminder_leads=(
            planning.ReminderLeadParams(hours_before=r.hours_before, include_pre_care=r.include_pre_care)
            for r in protocol.reminder_leads.all()
        ),
    )


def protocol_params_active() -> tuple[planning.ProtocolParams, ...]:
    """Every active protocol as engine data, in five queries however many protocols there are."""
    return _active_protocols_and_floor()[0]


def _active_protocols_and_floor() -> tuple[tuple[planning.ProtocolParams, ...], Floor]:
    """The active protocols and the clinic's safety floor, still in five queries: the floor's
    exception rides on the protocol query as two subqueries (plan creation keeps its budget)."""
    exception = SafetyException.in_force()
    protocols = list(
        Protocol.objects.filter(active=True)
        .annotate(
            exception_depth=Subquery(exception.values("max_depth_mm")[:1]),
            exception_reason=Subquery(exception.values("reason")[:1]),
        )
        .prefetch_related(
            Prefetch("contraindications", queryset=ContraindicationRule.objects.select_related("question")),
            "combinations",
            "care_notes",
            "reminder_leads",
        )
    )
    first = protocols[0] if protocols else None
    floor = floor_with(first and first.exception_depth, first and first.exception_reason)
    return tuple(protocol_to_params(p) for p in protocols), floor


def client_profile(client: Client) -> planning.ClientProfile:
    """The client's profile with the answers and date of their newest screen.

    No screen: the engine stops on every hard-stop rule (unanswered) and reviews the rest.
    """
    # One query: the newest screen's answers through a subquery (plan creation stays within 10 queries).
    rows = list(
        ScreeningAnswer.objects.filter(screening=Subquery(client_current_screening_id(client))).select_related(
            "question", "screening"
        )
    )
    answers = {a.question.code: planning.ScreeningAnswer(a.answer, a.last_date) for a in rows}
    return planning.ClientProfile(
        date_of_birth=client.date_of_birth,
        fitzpatrick=client.fitzpatrick,
        oiliness=client.oiliness,
        pore_severity=client.pore_concern,
        screening=answers,
        # Every answer belongs to the same (newest) screen; no answers: no screen.
        screened_on=rows[0].screening.screened_on if rows else None,
    )


def _plan_request(client: Client, start: dt.date, combinations: Iterable[int]) -> planning.PlanRequest:
    protocols, floor = _active_protocols_and_floor()
    return planning.PlanRequest(
        profile=client_profile(client),
        protocols=protocols,
        requested_start=start,
        selected_combinations=frozenset(int(c) for c in combinations),
        clinic_min_age=settings.CLINIC_MIN_AGE,
        today=timezone.localdate(),
        floor=floor,
        screening_max_age_days=settings.SCREENING_MAX_AGE_DAYS,
    )


def plan_preview(*, client: Client, start: dt.date, combinations: Iterable[int] = ()) -> planning.PlanProposal:
    """What plan_create would make now, without writing anything."""
    return planning.propose_plan(_plan_request(client, start, combinations))


def plan_suggested_start(*, client: Client, combinations: Iterable[int] = ()) -> planning.StartSuggestion:
    """The first start from today that leaves time for the protocol's whole pre-care schedule."""
    today = timezone.localdate()
    return planning.suggest_start(_plan_request(client, today, combinations))


# --- Writes -----------------------------------------------------------------------------------


def _refuse_unless_plannable(proposal: planning.PlanProposal) -> None:
    """Review items no longer stop acceptance: the plan is made, and cannot be booked until a
    clinician has signed off each one (services/safety.py)."""
    if proposal.status == "no_protocol":
        raise NoMatchingProtocol("No active protocol matches this client.", proposal)
    if proposal.status == "hard_stop":
        raise PlanHardStop("No plan can be made: " + " ".join(proposal.hard_stops), proposal)


def _refuse_unscreened(request: planning.PlanRequest) -> None:
    # Without any screening every question, the hard stops among them, is unanswered: one
    # acknowledgement must not turn twenty unknowns into a plan. (A screening answers every
    # active question, so no answers at all means no screening: no extra query.)
    if not request.profile.screening:
        raise NoScreening("Screen the client before making a plan: there is no screening on record.")


def _signoffs_inline(proposal: planning.PlanProposal, signoffs: Mapping[str, str], by: AbstractBaseUser) -> dict:
    """The sign-offs a clinician gives while making the plan, by review item; refused from anyone else."""
    wanted = {item.question_code for item in proposal.review_items}
    given = {code: note.strip() for code, note in signoffs.items() if code in wanted and note.strip()}
    if given and not by.has_perm("plans.make_clinical_decision"):
        raise PlanRefused("Only a clinician can sign off review items.", proposal)
    return given


def _snapshot(proposal: planning.PlanProposal) -> dict:
    assert proposal.protocol is not None
    snapshot = proposal.protocol.to_snapshot()
    # What the engine derived and no PlanSession row holds: home spans and the care schedule.
    snapshot["plan"] = {
        "age": proposal.age,
        "spans": [s.as_dict() for s in proposal.spans],
        "care_schedule": [c.as_dict() for c in proposal.care_schedule],
    }
    return snapshot


def _plan_fields(proposal: planning.PlanProposal, signed: set[str]) -> dict:
    return {
        "protocol_id": proposal.protocol.id,
        "protocol_snapshot": _snapshot(proposal),
        "requested_start": proposal.requested_start,
        "earliest_start": proposal.earliest_start,
        "selected_combinations": list(proposal.selected_combinations),
        "rationale": [e.as_dict() for e in proposal.rationale],
        "warnings": list(proposal.warnings),
        "review_items": [r.as_dict() for r in proposal.review_items],
        "review_pending": bool({r.question_code for r in proposal.review_items} - signed),
    }


def _write_signoffs(plan: TreatmentPlan, given: Mapping[str, str], by: AbstractBaseUser) -> None:
    if given:
        now = timezone.now()
        ReviewSignoff.objects.bulk_create(
            [
                ReviewSignoff(plan=plan, question_code=code, note=note, signed_by=by, signed_at=now)
                for code, note in given.items()
            ]
        )


def _anchor(s: planning.ProposedSession, proposal: planning.PlanProposal) -> int | None:
    """The microneedling session an "after session k" visit was placed from (its earliest day is
    session k's target plus the combination's offset, as the engine places it)."""
    combo = next((c for c in proposal.protocol.combinations if c.id == s.combination_id), None)
    if combo is None or combo.placement != planning.AFTER:
        return None
    gap = dt.timedelta(days=max(combo.offset_days, combo.min_days_after_mn))
    return next((m.mn_number for m in proposal.mn_sessions if m.target + gap == s.earliest), None)


def _session_rows(plan: TreatmentPlan, proposal: planning.PlanProposal) -> list[PlanSession]:
    return [
        PlanSession(
            plan=plan,
            sequence=s.sequence,
            kind=s.kind,
            title=s.title,
            mn_number=s.mn_number,
            earliest=s.earliest,
            target=s.target,
            latest=s.latest,
            duration_minutes=s.duration_minutes,
            buffer_minutes=s.buffer_minutes,
            depth_mm=s.depth_mm,
            min_days_after_mn=s.min_days_after_mn,
            min_days_before_mn=s.min_days_before_mn,
            combination_id=s.combination_id,
            anchor_mn=_anchor(s, proposal) if s.combination_id else None,
        )
        for s in proposal.sessions
    ]


def plan_create(
    *,
    client: Client,
    start: dt.date,
    combinations: Iterable[int] = (),
    created_by: AbstractBaseUser,
    signoffs: Mapping[str, str] | None = None,
    request_token: str | None = None,
) -> TreatmentPlan:
    """Make the plan and all its sessions in one transaction.

    Refuses (PlanRefused subclasses) a client never screened, a hard stop and no matching
    protocol. Review items do not stop it: the plan cannot be booked until a clinician has
    signed off each one, here (`signoffs`: question code -> what was done, when the creator is
    a clinician) or later on the plan page. With a request_token, a repeat of the same request
    (a double submit) returns the plan the first one made.
    """
    if request_token and (existing := TreatmentPlan.objects.filter(request_token=request_token).first()):
        return existing
    request = _plan_request(client, start, combinations)
    _refuse_unscreened(request)
    proposal = planning.propose_plan(request)
    _refuse_unless_plannable(proposal)
    given = _signoffs_inline(proposal, signoffs or {}, created_by)
    try:
        with transaction.atomic():
            plan = TreatmentPlan.objects.create(
                client=client,
                created_by=created_by,
                request_token=request_token or None,
                # A new plan starts held while an adverse event of the client waits for a clinician.
                adverse_event_hold=client.adverse_events.holding().exists(),
                # Who the plan is made for, kept as they are today (the outcomes report's groups).
                **Cohort.of(client, proposal.requested_start).as_fields(),
                **_plan_fields(proposal, set(given)),
            )
            _write_signoffs(plan, given, created_by)
            # bulk_create alone writes no audit history; this adds one history insert, still constant.
            bulk_create_with_history(_session_rows(plan, proposal), PlanSession, default_user=created_by)
    except IntegrityError:
        # Two submits of one form raced past the lookup above: the unique token let one win.
        if request_token and (existing := TreatmentPlan.objects.filter(request_token=request_token).first()):
            return existing
        raise
    return plan


def plan_recompute(
    *,
    plan: TreatmentPlan,
    start: dt.date,
    combinations: Iterable[int] = (),
    by: AbstractBaseUser,
) -> TreatmentPlan:
    """Regenerate a plan that has nothing booked or done yet, from the client's current profile and protocols."""
    with transaction.atomic():
        locked = TreatmentPlan.objects.select_for_update().get(pk=plan.pk)
        if not locked.is_recomputable:
            if not locked.is_bookable:
                raise PlanLocked(f"This plan is {locked.get_status_display().lower()}: it cannot be recomputed.")
            raise PlanLocked(
                "This plan has booked or completed sessions: change it by rescheduling those sessions instead."
            )
        proposal = plan_preview(client=locked.client, start=start, combinations=combinations)
        _refuse_unless_plannable(proposal)
        signed = set(locked.review_signoffs.values_list("question_code", flat=True))
        # Regenerated from the client as they are now, and nothing is done yet: the plan is now
        # made for that client (plan_recompute_remaining keeps the cohort: the course has begun).
        fields = _plan_fields(proposal, signed) | Cohort.of(locked.client, proposal.requested_start).as_fields()
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.save()
        locked.sessions.all().delete()
        bulk_create_with_history(_session_rows(locked, proposal), PlanSession, default_user=by)
    return locked


@dataclass(frozen=True)
class Recomputed:
    plan: TreatmentPlan
    # What a clinician and staff must know: kept sessions still to come that break the new rules.
    conflicts: tuple[str, ...]
    cancelled: tuple[PlanSession, ...]


def plan_recompute_remaining(
    *, plan: TreatmentPlan, sessions: list[PlanSession], by: AbstractBaseUser, cancel_conflicting: bool = False
) -> Recomputed:
    """Re-plan the sessions not booked or done from the client's current profile and screening,
    around the ones that are (plans.replanning); `plan` and `sessions` locked by the caller
    (booking._lock_plan). A kept session still to come that breaks a new rule is named on the
    plan for staff to move, or cancelled when the clinician deciding says so (`cancel_conflicting`)."""
    from plans import outbox, replanning
    from plans.models import OCCUPYING_STATUSES, SessionKind, SessionStatus

    proposal = plan_preview(client=plan.client, start=plan.requested_start, combinations=plan.selected_combinations)
    _refuse_unless_plannable(proposal)
    now = timezone.now()
    mn = [s for s in sessions if s.kind == SessionKind.MICRONEEDLING]
    kept_rows = {s.mn_number: s for s in mn if s.status in OCCUPYING_STATUSES}
    kept = [
        replanning.Kept(k, s.local_date(), s.depth_mm, s.status == SessionStatus.COMPLETED, s.sequence_label)
        for k, s in kept_rows.items()
    ]
    today = timezone.localdate(now)
    replan = replanning.replan_remaining(proposal, kept, today=today)
    conflicts = tuple(why for _k, why in replan.conflicts)
    cancelled = []
    if cancel_conflicting and replan.conflicts:
        for k in dict.fromkeys(k for k, _why in replan.conflicts):
            session = kept_rows[k]
            if session.status == SessionStatus.BOOKED:
                session.cancel(
                    by_client=False, reason="Breaks the recomputed plan's rules (clinician's decision)", now=now
                )
                session.save()
                outbox.on_session_cancelled(session)
                cancelled.append(session)
        # A cancelled session is re-planned with the rest.
        gone = {s.mn_number for s in cancelled}
        replan = replanning.replan_remaining(proposal, [k for k in kept if k.mn_number not in gone], today=today)
    rows = _session_rows(plan, replace(proposal, sessions=replan.sessions))
    # A visit "after session k" is anchored as the engine placed it, k kept or not.
    anchors = {s.sequence: _anchor(s, proposal) for s in proposal.sessions if s.combination_id}
    for row in rows:
        row.anchor_mn = anchors.get(row.sequence) if row.combination_id else None
    rows, visit_conflicts, visits_cancelled = _booked_visits_stand(rows, sessions, cancel_conflicting, now)
    conflicts += visit_conflicts
    cancelled += visits_cancelled
    signed = set(plan.review_signoffs.values_list("question_code", flat=True))
    for name, value in _plan_fields(proposal, signed).items():
        if name != "requested_start":
            setattr(plan, name, value)
    if not cancel_conflicting and conflicts:
        plan.warnings = [*plan.warnings, *(f"Move it: {why}" for why in conflicts)]
    for k, depth in replan.lowered:
        kept_rows[k].depth_mm = depth
        kept_rows[k].save(update_fields=["depth_mm", "updated_at"])
    plan.save()
    # Replaced: every visit not booked or done after the last kept session, and microneedling
    # sessions not booked or done (a cancelled one's row keeps its history and is updated).
    reusable = {s.mn_number: s for s in mn if s.status not in OCCUPYING_STATUSES}
    deleted = [
        s
        for s in sessions
        if s.status == SessionStatus.PROPOSED and s.kind != SessionKind.MICRONEEDLING and s.earliest > replan.anchor
    ]
    new, updated = [], []
    for row in rows:
        existing = reusable.pop(row.mn_number, None) if row.mn_number else None
        if existing is None:
            new.append(row)
            continue
        for field in _REPLANNED_FIELDS:
            setattr(existing, field, getattr(row, field))
        updated.append(existing)
    # Proposed microneedling sessions beyond the new count go; cancelled ones stay as history.
    deleted += [s for s in reusable.values() if s.status == SessionStatus.PROPOSED]
    PlanSession.objects.filter(pk__in=[s.pk for s in deleted]).delete()
    _renumber([*(s for s in sessions if s not in deleted), *new], updated, by)
    from plans.services.booking import _rewindow_after_visits

    # Unbooked visits after a kept session follow its real date (the PIH check after session 1).
    final = list(plan.sessions.order_by("sequence"))
    for s in final:
        s.plan = plan
    _rewindow_after_visits(final)
    return Recomputed(plan=plan, conflicts=conflicts, cancelled=tuple(cancelled))


def _booked_visits_stand(
    rows: list[PlanSession], sessions: list[PlanSession], cancel_conflicting: bool, now: dt.datetime
) -> tuple[list[PlanSession], tuple[str, ...], list[PlanSession]]:
    """A visit already booked or done (the follow-up, a PIH check) stands for the recomputed one
    of the same kind and title: it is not added twice. One booked outside the window the new plan
    gives it is named (or, when the clinician says so, cancelled and the new one added)."""
    from plans import outbox
    from plans.models import OCCUPYING_STATUSES, SessionKind, SessionStatus

    booked = {
        (s.kind, s.title): s for s in sessions if s.kind != SessionKind.MICRONEEDLING and s.status in OCCUPYING_STATUSES
    }
    kept_rows, conflicts, cancelled = [], [], []
    for row in rows:
        visit = booked.get((row.kind, row.title)) if not row.mn_number else None
        if visit is None:
            kept_rows.append(row)
            continue
        day = visit.local_date()
        if row.earliest <= day <= row.latest or visit.status == SessionStatus.COMPLETED:
            continue
        why = (
            f"{visit.title} booked on {day:%d %b %Y}: the recomputed plan places it between "
            f"{row.earliest:%d %b} and {row.latest:%d %b %Y}."
        )
        conflicts.append(why)
        if cancel_conflicting:
            visit.cancel(by_client=False, reason="Breaks the recomputed plan's rules (clinician's decision)", now=now)
            visit.save()
            outbox.on_session_cancelled(visit)
            cancelled.append(visit)
            kept_rows.append(row)
    return kept_rows, tuple(conflicts), cancelled


_REPLANNED_FIELDS = ("title", "earliest", "target", "latest", "duration_minutes", "buffer_minutes", "depth_mm")


def _renumber(rows: list[PlanSession], updated: list[PlanSession], by: AbstractBaseUser) -> None:
    """Sequences in date order (booked by their day, others by target): cascades and pages read
    "later" from the sequence. Two steps, as (plan, sequence) is unique."""
    existing = [r for r in rows if r.pk]
    for offset, r in enumerate(existing, start=1):
        PlanSession.objects.filter(pk=r.pk).update(sequence=1000 + offset)

    def day(r: PlanSession) -> dt.date:
        return r.local_date() if r.starts_at else r.target

    for sequence, r in enumerate(sorted(rows, key=lambda r: (day(r), r.mn_number or 0)), start=1):
        r.sequence = sequence
    for r in existing:
        fields = ["sequence", "updated_at"]
        if r in updated:
            fields += list(_REPLANNED_FIELDS)
        r.save(update_fields=fields)
    bulk_create_with_history([r for r in rows if not r.pk], PlanSession, default_user=by)
