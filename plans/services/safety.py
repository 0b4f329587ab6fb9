"""Clinical safety after a plan is made: the pre-session check, change detection and holds,
review sign-offs and clinical overrides.

Every write here locks a plan in booking's one order (`_lock_plan`: the plan row, then its
sessions by id) inside `locked_write`, so a hold opened by a profile change and a booking of
the same plan queue on the plan row: the booking sees the hold, or the hold comes after it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from plans import outbox, recheck
from plans.models import (
    AdverseEvent,
    Client,
    ClinicalHold,
    ClinicalOverride,
    HoldStatus,
    IllegalTransition,
    PlanSession,
    PlanStatus,
    PreSessionCheck,
    ReviewSignoff,
    SessionKind,
    SessionStatus,
    TreatmentPlan,
)
from plans.services import booking
from plans.services.booking import BookingError, _lock_plan, _locked_session, locked_write

log = logging.getLogger(__name__)

CLINICAL_DECISION = "plans.make_clinical_decision"


class NeedsClinician(BookingError):
    """Only a clinician may take this decision."""

    code = "needs_clinician"


def is_clinician(user) -> bool:
    return bool(user) and user.has_perm(CLINICAL_DECISION)


def require_clinician(user, what: str) -> None:
    if not is_clinician(user):
        raise NeedsClinician(f"A clinician must decide: {what}")


# --- Reading --------------------------------------------------------------------------------


def _checks_since_screening(client: Client, plan: TreatmentPlan) -> list[recheck.ReportedCheck]:
    """The client's pre-session checks newer than their current screening and the plan itself:
    a full screening supersedes the checks before it."""
    newest = client.screenings.order_by("-created_at", "-id").values_list("created_at", flat=True).first()
    since = max(filter(None, [newest, plan.created_at]))
    return [
        recheck.ReportedCheck(
            day=timezone.localdate(c.recorded_at),
            answers={
                code: recheck.CheckAnswer(bool(a.get("yes")), a.get("detail", "")) for code, a in c.answers.items()
            },
        )
        for c in client.pre_session_checks.filter(recorded_at__gte=since).order_by("recorded_at")
    ]


def plan_differences(plan: TreatmentPlan) -> list[str]:
    """What the engine would now answer differently from `plan`, each line with its reason."""
    from plans.services.plans import client_profile, protocol_params_active

    client = plan.client
    checks = _checks_since_screening(client, plan)
    profile = recheck.with_checks(client_profile(client), checks)
    made = recheck.PlanAsMade(
        params=plan.params,
        requested_start=plan.requested_start,
        earliest_start=plan.earliest_start,
        review_codes=frozenset(item["question_code"] for item in plan.review_items),
        combinations=frozenset(plan.selected_combinations),
    )
    lines = recheck.plan_differences(
        made, profile, protocols=protocol_params_active(), clinic_min_age=settings.CLINIC_MIN_AGE
    )
    return lines + recheck.unmapped_yes_lines(checks, plan.params)


def plan_open_hold(plan: TreatmentPlan) -> ClinicalHold | None:
    return plan.holds.filter(status=HoldStatus.OPEN).first()


def current_check(*, client: Client, now: dt.datetime | None = None) -> PreSessionCheck | None:
    """The client's newest pre-session check if it still counts (PRE_SESSION_CHECK_VALID_DAYS)."""
    now = now or booking._now()
    check = client.pre_session_checks.order_by("-recorded_at").first()
    return check if check and check.is_current(now=now) else None


def signed_codes(plan: TreatmentPlan) -> set[str]:
    return set(plan.review_signoffs.values_list("question_code", flat=True))


# --- Change detection -----------------------------------------------------------------------


def _hold_plan(plan: TreatmentPlan, lines: list[str], cause: str, now: dt.datetime) -> ClinicalHold | None:
    """Open a hold (or add to the open one) for `lines`; None when a clinician already decided these."""
    open_hold = plan.holds.select_for_update().filter(status=HoldStatus.OPEN).first()
    if open_hold is not None:
        new = [line for line in lines if line not in open_hold.reasons]
        if new:
            open_hold.reasons = [*open_hold.reasons, *new]
            open_hold.save(update_fields=["reasons"])
        return open_hold
    # A clinician who chose to continue has already weighed exactly these differences.
    decided = plan.holds.filter(status=HoldStatus.CONTINUED).values_list("reasons", flat=True)
    weighed = {line for reasons in decided for line in reasons}
    if all(line in weighed for line in lines):
        return None
    hold = ClinicalHold.objects.create(plan=plan, opened_at=now, cause=cause[:200], reasons=lines)
    plan.hold_opened_at = now
    plan.save(update_fields=["hold_opened_at", "updated_at"])
    return hold


def plans_recheck(*, client: Client, cause: str) -> list[ClinicalHold]:
    """Re-run every active plan of `client` through the engine; hold each whose answer changed.

    Runs in the caller's transaction (a client update, a screening, a pre-session check), so
    the change and the holds it causes are saved together or not at all.
    """
    now = booking._now()
    holds = []
    for plan_id in client.plans.filter(status=PlanStatus.ACTIVE).order_by("id").values_list("id", flat=True):
        plan, _sessions = _lock_plan(plan_id)
        if (lines := plan_differences(plan)) and (hold := _hold_plan(plan, lines, cause, now)):
            holds.append(hold)
            log.info("plan %s held: %s", plan.pk, cause)
    return holds


# --- The pre-session check ------------------------------------------------------------------


def _answers(raw: Mapping[str, tuple[bool, str]]) -> dict[str, recheck.CheckAnswer]:
    return {code: recheck.CheckAnswer(bool(yes), (detail or "").strip()[:500]) for code, (yes, detail) in raw.items()}


def check_refusal(session: PlanSession, *, now: dt.datetime | None = None) -> str:
    """Why no pre-session check can be recorded for `session` now; "" when it can.

    A session's check is recorded once while it counts. One that no longer covers the session
    (it went stale, or the session moved more than PRE_SESSION_CHECK_VALID_DAYS after it) would
    otherwise leave Start and Complete refusing for good, so a new one may then be recorded."""
    return _check_refusal(session, session.newest_pre_session_check(), now or booking._now())


def _check_refusal(session: PlanSession, newest: PreSessionCheck | None, now: dt.datetime) -> str:
    """check_refusal given the session's newest check, for pages that read all checks at once."""
    if session.kind != SessionKind.MICRONEEDLING:
        return "Only a microneedling session needs a pre-session check."
    if session.status != SessionStatus.BOOKED:
        return f"The session is {session.get_status_display().lower()}: no check is needed."
    if newest is not None and newest.covers(session, now=now):
        return "The check for this session was already recorded."
    return ""


@locked_write
def pre_session_check_record(
    *,
    session: PlanSession,
    answers: Mapping[str, tuple[bool, str]],
    by: AbstractBaseUser | None = None,
) -> PreSessionCheck:
    """Record the re-screen before `session` (by staff, or by the client when `by` is None) and
    recheck the client's plans against it: a "yes" a rule answers holds the plan exactly as the
    same answer at the full screening would have stopped, deferred or flagged it."""
    parsed = _answers(answers)
    if problems := recheck.check_problems(parsed):
        raise ValidationError(problems)
    session, _ = _locked_session(session.pk)
    now = booking._now()
    # Read under the session's row lock: a second submit waits here and then sees this check.
    if refusal := check_refusal(session, now=now):
        raise BookingError(refusal, code="check_not_needed")
    previous = session.newest_pre_session_check()
    client = session.plan.client
    try:
        with transaction.atomic():
            check = PreSessionCheck.objects.create(
                client=client,
                session=session,
                sequence=previous.sequence + 1 if previous else 1,
                recorded_at=now,
                recorded_by=by,
                via=PreSessionCheck.Via.STAFF if by else PreSessionCheck.Via.CLIENT,
                answers={code: {"yes": a.yes, "detail": a.detail} for code, a in parsed.items()},
            )
    except IntegrityError as exc:
        # Two submits of the same check raced past the lock (a write outside this service):
        # the unique (session, sequence) let one win.
        raise BookingError("The check for this session was already recorded.", code="check_not_needed") from exc
    if check.yes_codes:
        plans_recheck(client=client, cause=f"Pre-session check before {session.label}")
    log.info("pre-session check %s recorded for session %s (%s)", check.pk, session.pk, check.via)
    return check


# --- Clinician decisions --------------------------------------------------------------------


def _stop(plan: TreatmentPlan, sessions: list[PlanSession], note: str, now: dt.datetime) -> None:
    """Cancel every booked session through the same path (and outbox hooks) as a cancel, then the plan."""
    for s in sessions:
        if s.status == SessionStatus.BOOKED:
            s.cancel(by_client=False, reason=f"Plan stopped by a clinician: {note}"[:255], now=now)
            s.save()
            outbox.on_session_cancelled(s)
    plan.stop()
    plan.hold_opened_at = None
    plan.save(update_fields=["status", "hold_opened_at", "updated_at"])


@locked_write
def hold_decide(
    *, hold: ClinicalHold, decision: str, note: str, by: AbstractBaseUser, cancel_conflicting: bool = False
) -> ClinicalHold:
    """A clinician's answer to a hold: continue (with the reason), recompute, or stop the plan.

    Recomputing a plan with sessions booked or done keeps those and re-plans the rest; a kept
    session still to come that breaks a new rule is named on the plan (`recompute_conflicts`
    on the returned hold) for staff to move, or cancelled when `cancel_conflicting`."""
    require_clinician(by, "only a clinician decides what happens to a plan on hold.")
    plan, sessions = _lock_plan(hold.plan_id)
    now = booking._now()  # once the lock is held: times follow the order writes took effect
    hold = ClinicalHold.objects.select_for_update().get(pk=hold.pk)
    if decision == HoldStatus.CONTINUED and (
        stops := [line for line in plan_differences(plan) if line.startswith("Hard stop")]
    ):
        raise BookingError(
            "A hard stop still applies, so the plan cannot continue: " + " ".join(stops) + " Stop the plan, "
            "or record a new screening once it no longer applies.",
            code="hard_stop",
        )
    hold.decide(status=decision, by=by, note=note, now=now)
    hold.save()
    if decision == HoldStatus.CONTINUED:
        _adopt_current_cap(plan)
    if decision == HoldStatus.STOPPED:
        _stop(plan, sessions, note.strip(), now)
    else:
        plan.hold_opened_at = None
        plan.save(update_fields=["hold_opened_at", "updated_at"])
    if decision == HoldStatus.RECOMPUTED:
        from plans.services.plans import PlanLocked, PlanRefused, plan_recompute, plan_recompute_remaining

        try:
            if plan.is_recomputable:
                plan_recompute(
                    plan=plan,
                    start=max(plan.requested_start, timezone.localdate(now)),
                    combinations=plan.selected_combinations,
                    by=by,
                )
            else:
                # Booked and completed sessions stay; the rest is re-planned around them.
                result = plan_recompute_remaining(
                    plan=plan, sessions=sessions, by=by, cancel_conflicting=cancel_conflicting
                )
                hold.recompute_conflicts = list(result.conflicts)
        except (PlanRefused, PlanLocked) as exc:
            # The engine refuses the client now (a hard stop, no protocol): the hold stays open.
            raise BookingError(f"The plan cannot be recomputed: {exc}", code="illegal") from exc
    log.info("hold %s on plan %s decided %s by %s", hold.pk, plan.pk, decision, by)
    return hold


def plan_depth_cap_now(plan: TreatmentPlan) -> Decimal:
    """The cap of the client as they are now (profile, screening and checks since) on `plan`."""
    from plans.services.plans import _active_protocols_and_floor, client_profile

    protocols, floor = _active_protocols_and_floor()
    profile = recheck.with_checks(client_profile(plan.client), _checks_since_screening(plan.client, plan))
    return recheck.depth_cap_now(
        plan.params,
        profile,
        protocols=protocols,
        clinic_min_age=settings.CLINIC_MIN_AGE,
        requested_start=plan.requested_start,
        floor=floor,
    )


def _adopt_current_cap(plan: TreatmentPlan) -> None:
    """Continuing keeps the plan's sessions, not a cap the client no longer has: the lower cap
    (never a higher one) is recorded on the plan, and completion holds every depth to it."""
    cap = plan_depth_cap_now(plan)
    if cap < plan.depth_cap_mm:
        plan.clinical_depth_cap_mm = cap
        plan.save(update_fields=["clinical_depth_cap_mm", "updated_at"])


def _review_pending(plan: TreatmentPlan) -> bool:
    wanted = {item["question_code"] for item in plan.review_items}
    return bool(wanted - signed_codes(plan))


@locked_write
def review_signoff(*, plan: TreatmentPlan, question_code: str, note: str, by: AbstractBaseUser) -> ReviewSignoff:
    """A clinician signs off one review item of the plan, saying what was done about it."""
    require_clinician(by, "only a clinician signs off a review item.")
    plan, _ = _lock_plan(plan.pk)
    if question_code not in {item["question_code"] for item in plan.review_items}:
        raise BookingError("The plan has no such review item.", code="illegal")
    if not note.strip():
        raise BookingError("Say what was done about it (e.g. 'antiviral prescribed by Dr X').", code="invalid")
    if plan.review_signoffs.filter(question_code=question_code).exists():
        raise BookingError("That item is already signed off.", code="illegal")
    signoff = ReviewSignoff.objects.create(
        plan=plan, question_code=question_code, note=note.strip()[:2000], signed_by=by, signed_at=booking._now()
    )
    plan.review_pending = _review_pending(plan)
    plan.save(update_fields=["review_pending", "updated_at"])
    return signoff


def record_overrides(
    *, session: PlanSession, rules: list[tuple[str, str]], reason: str, by: AbstractBaseUser | None
) -> list[ClinicalOverride]:
    """Rows for clinical rules a clinician overrode for `session` (the caller checked who `by` is)."""
    if not rules:
        return []
    if not is_clinician(by):
        raise IllegalTransition("Only a clinician may override a clinical rule.", code="needs_clinician")
    return ClinicalOverride.objects.bulk_create(
        [
            ClinicalOverride(
                session=session, rule=rule, detail=detail[:500], reason=reason.strip()[:500], by=by, at=booking._now()
            )
            for rule, detail in rules
        ]
    )


def plan_review_state(plan: TreatmentPlan) -> list[dict]:
    """Each review item of the plan with its sign-off (or None), for the plan page."""
    signoffs = {s.question_code: s for s in plan.review_signoffs.select_related("signed_by")}
    return [{**item, "signoff": signoffs.get(item["question_code"])} for item in plan.review_items]


def initial_review_pending(review_items: list[dict], signoffs: Mapping[str, str]) -> bool:
    return bool({i["question_code"] for i in review_items} - {c for c, n in signoffs.items() if n.strip()})


# --- Reads for the plan page and the session panel ---------------------------------------------


def plan_safety(plan: TreatmentPlan, *, clinical: bool) -> dict:
    """What the plan page shows about holds, review sign-offs and pre-session checks.

    Without the clinical record only the fact of a hold is shown (its reasons name health data).
    A constant number of queries: holds, checks, and sign-offs or overrides only where the
    plan's own rows say there are any; sessions come from the page's prefetch."""
    code, reason = plan.clinical_refusal()
    holds = list(plan.holds.select_related("decided_by")) if clinical or plan.is_on_hold else []
    hold = next((h for h in holds if h.is_open), None)
    context = {"hold": hold, "refusal_code": code, "refusal": reason}
    if not clinical:
        return context
    sessions = list(plan.sessions.all())
    now = booking._now()
    checks = list(PreSessionCheck.objects.filter(client_id=plan.client_id).order_by("-recorded_at", "-id"))
    newest = checks[0] if checks and checks[0].is_current(now=now) else None
    # The same rule as check_refusal, from the checks already read instead of a query per session.
    newest_of: dict[int, PreSessionCheck] = {}
    for c in checks:
        if c.session_id not in newest_of or c.sequence > newest_of[c.session_id].sequence:
            newest_of[c.session_id] = c
    overridden = any(s.window_override_reason or s.depth_rules_broken(s.depth_used_mm) for s in sessions)
    context |= {
        "adverse_events": list(AdverseEvent.objects.filter(client_id=plan.client_id).holding())
        if plan.adverse_event_hold
        else [],
        "reviews": plan_review_state(plan) if plan.review_items else [],
        "past_holds": [h for h in holds if not h.is_open],
        "overrides": list(
            ClinicalOverride.objects.filter(session__plan=plan).select_related("by", "session__plan").order_by("at")
        )
        if overridden
        else [],
        "check": newest,
        "check_sessions": [s for s in sessions if not _check_refusal(s, newest_of.get(s.id), now)],
    }
    return context


def session_safety(session: PlanSession, *, clinical: bool) -> dict:
    """What the session panel shows: the hold or pending review, and (clinical only) the check."""
    plan = session.plan
    code, reason = plan.clinical_refusal(session.kind)
    context = {"safety_code": code, "safety_reason": reason}
    if clinical:
        hold = plan_open_hold(plan) if code == "clinical_hold" else None
        context |= {
            "hold_reasons": hold.reasons if hold else [],
            "check": current_check(client=plan.client),
            "check_needed": session.kind == SessionKind.MICRONEEDLING,
            "check_recordable": not check_refusal(session),
        }
    return context
