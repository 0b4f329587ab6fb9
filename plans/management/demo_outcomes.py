"""A year of treated clients for the demo, so the outcomes report and the preview's evidence
have something to show on a first `make run` (load_demo calls `demo_outcomes`).

Each client's plan is the one the engine makes for their profile (all screening questions
answered no), started over the past year; most are completed with baseline and assessment scores,
a GAIS and the client's questionnaire, some are still in progress and a few were dropped. PIH
shows up mostly in Fitzpatrick IV-VI. Deterministic (seeded) and idempotent: clients are matched
by email and only clients without a plan get one. Written with bulk_create to keep `make run`
fast, so these rows have no audit history (like the benchmark's generated rows).
"""

from __future__ import annotations

import datetime as dt
import random

from django.conf import settings
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from plans import models, planning
from plans.cohorts import Cohort
from plans.services import plans as plan_services
from plans.services.outcomes import summarise_outcomes

CLIENTS = 160
EMAIL = "outcomes.demo.{:03d}@example.com"
FIRST = ["Amara", "Bea", "Cora", "Dina", "Esme", "Farah", "Gemma", "Hiro", "Isla", "Jade", "Kemi", "Lucia", "Mina"]
LAST = ["Adebayo", "Brooks", "Chen", "Dubois", "Evans", "Fofana", "Garcia", "Haddad", "Iqbal", "Jones", "Kowalski"]
# The three questions the report reads; a clinic rewords them in the admin (never shipped wording
# of a licensed instrument). Created only when missing.
QUESTIONS = (
    (
        "satisfaction",
        "How satisfied are you with your skin overall?",
        models.AnswerType.SCALE_0_10,
        "Not at all",
        "Completely",
    ),
    ("pore-visibility", "How visible are your pores to you?", models.AnswerType.SCALE_1_5, "Barely", "Very"),
    ("recommend", "Would you recommend this treatment to a friend?", models.AnswerType.YES_NO, "No", "Yes"),
)


def _questions() -> dict[str, models.OutcomeQuestion]:
    made = {}
    for position, (code, text, kind, low, high) in enumerate(QUESTIONS):
        made[code], _ = models.OutcomeQuestion.objects.get_or_create(
            code=code,
            defaults={"text": text, "answer_type": kind, "low_label": low, "high_label": high, "position": position},
        )
    return made


def _profile(rng: random.Random, k: int) -> dict:
    return {
        "fitzpatrick": rng.choice([1, 2, 2, 3, 3, 4, 4, 5, 6]),
        "age": rng.randint(21, 68),
        "oiliness": rng.choice(["dry", "normal", "normal", "combination", "oily"]),
        "pore_concern": rng.choice(["mild", "moderate", "moderate", "severe"]),
        "fate": "cancelled" if k % 13 == 5 else "active" if k % 9 == 4 else "completed",
    }


def demo_outcomes(*, practitioners: list[models.Practitioner], rated_by, created: list[str]) -> None:
    rng = random.Random(18)
    today = timezone.localdate()
    specs = [(EMAIL.format(k), _profile(rng, k)) for k in range(CLIENTS)]
    existing = set(models.Client.objects.filter(email__in=[e for e, _ in specs]).values_list("email", flat=True))
    # Starts spread over the year before the last one's assessment could be due (series + 12 weeks).
    starts = {email: today - dt.timedelta(days=200 + (k * 160) // CLIENTS) for k, (email, _) in enumerate(specs)}
    for email, spec in specs:
        if spec["fate"] == "active":
            starts[email] = today - dt.timedelta(days=rng.randint(30, 80))
    new_clients = [
        models.Client(
            first_name=rng.choice(FIRST),
            last_name=rng.choice(LAST),
            email=email,
            phone=f"+44 7700 95{k:04d}",
            date_of_birth=starts[email].replace(year=starts[email].year - spec["age"] - 1) + dt.timedelta(days=1),
            fitzpatrick=spec["fitzpatrick"],
            oiliness=spec["oiliness"],
            pore_concern=spec["pore_concern"],
            email_consent=False,  # nothing is emailed about the past
            notes="Demo: a past client for the outcomes report.",
        )
        for k, (email, spec) in enumerate(specs)
        if email not in existing
    ]
    bulk_create_with_history(new_clients, models.Client)
    clients = models.Client.objects.filter(email__in=[e for e, _ in specs], plans__isnull=True)
    todo = {c.email: c for c in clients}
    if not todo:
        return
    protocols, floor = plan_services._active_protocols_and_floor()
    questions = [q.code for q in models.ScreeningQuestion.objects.filter(active=True)]
    no_to_all = {code: planning.ScreeningAnswer(False, None) for code in questions}
    plans, sessions, scores, responses, answers, events = [], [], [], [], [], []
    zone = timezone.get_current_timezone()
    # Where each practitioner's past day is already taken up to (the demo's own visits, or a
    # clinic's real ones): the past year's visits start after it, never overlapping them.
    busy: dict[tuple[int, dt.date], dt.datetime] = {}
    taken = models.PlanSession.objects.filter(practitioner__isnull=False, blocked_until__isnull=False).values_list(
        "practitioner_id", "starts_at", "blocked_until"
    )
    for practitioner_id, starts_at, blocked_until in taken:
        key = (practitioner_id, timezone.localtime(starts_at, zone).date())
        busy[key] = max(busy.get(key, blocked_until), blocked_until)
    question_rows = _questions()
    for email, spec in specs:
        client = todo.get(email)
        if client is None:
            continue
        start = starts[email]

        def propose(start: dt.date, client=client) -> planning.PlanProposal:
            return planning.propose_plan(
                planning.PlanRequest(
                    profile=planning.ClientProfile(
                        date_of_birth=client.date_of_birth,
                        fitzpatrick=client.fitzpatrick,
                        oiliness=client.oiliness,
                        pore_severity=client.pore_concern,
                        screening=no_to_all,
                        screened_on=start - dt.timedelta(days=7),
                    ),
                    protocols=protocols,
                    requested_start=start,
                    selected_combinations=frozenset(),
                    clinic_min_age=settings.CLINIC_MIN_AGE,
                    today=start - dt.timedelta(days=7),
                    floor=floor,
                    screening_max_age_days=settings.SCREENING_MAX_AGE_DAYS,
                )
            )

        proposal = propose(start)
        if proposal.ok and spec["fate"] == "completed":
            # A finished series lies wholly in the past (a slipped visit included): its visits must
            # not land on today's or future diaries, where the demo's bookings are.
            overshoot = (max(s.latest for s in proposal.sessions) + dt.timedelta(days=10) - today).days
            if overshoot > 0:
                start -= dt.timedelta(days=overshoot)
                proposal = propose(start)
        if not proposal.ok:
            continue
        plan = models.TreatmentPlan(
            client=client,
            created_by=rated_by,
            **Cohort.of(client, proposal.requested_start).as_fields(),
            **plan_services._plan_fields(proposal, set()),
        )
        plan.status = spec["fate"]
        plan.review_pending = False
        plans.append((plan, proposal, spec))
    bulk_create_with_history([p for p, _, _ in plans], models.TreatmentPlan, default_user=rated_by)
    for plan, proposal, spec in plans:
        rows = plan_services._session_rows(plan, proposal)
        done_until = {"completed": len(rows), "cancelled": 1}.get(spec["fate"])
        for i, row in enumerate(rows):
            day = row.target
            # One visit in eight slips a few days past its window, as real diaries do.
            if rng.random() < 0.12:
                day = row.latest + dt.timedelta(days=rng.randint(1, 6))
            while day.weekday() >= 5:
                day += dt.timedelta(days=1)
            # Never a visit done today or later (a cancelled plan's first visit included).
            finished = ((i < done_until) if done_until is not None else True) and day < today
            if not finished:
                row.status = (
                    models.SessionStatus.CANCELLED if spec["fate"] == "cancelled" else models.SessionStatus.PROPOSED
                )
                sessions.append(row)
                continue
            practitioner = practitioners[(plan.pk + i) % len(practitioners)]
            # The practitioner's day runs 09:00-18:00: a full day sends the visit to the next weekday.
            while True:
                key = (practitioner.pk, day)
                opens = dt.datetime.combine(day, dt.time(9), tzinfo=zone)
                row.starts_at = max(opens, busy.get(key, opens))
                row.ends_at = row.starts_at + dt.timedelta(minutes=row.duration_minutes)
                if row.ends_at <= dt.datetime.combine(day, dt.time(18), tzinfo=zone):
                    break
                day += dt.timedelta(days=3 if day.weekday() == 4 else 1)
            row.blocked_until = busy[key] = row.ends_at + dt.timedelta(minutes=row.buffer_minutes)
            row.practitioner = practitioner
            row.status = models.SessionStatus.COMPLETED
            row.completed_at = row.ends_at
            row.depth_used_mm = row.depth_mm
            sessions.append(row)
        baseline = {"mild": rng.choice([1, 2]), "moderate": rng.choice([2, 3]), "severe": rng.choice([3, 4])}[
            plan.cohort_pore_concern
        ]
        first_day = plan.requested_start
        scores.append(_score(plan, "baseline", baseline, None, rated_by, first_day))
        responses.append((plan, "baseline", first_day, rng.randint(2, 6), baseline + 1, None))
        if spec["fate"] != "completed":
            continue
        # Rated at the follow-up assessment (12 weeks after the last treatment), never in the future.
        last = rows[-1].target
        if rows[-1].kind != models.SessionKind.FOLLOW_UP:
            last += dt.timedelta(weeks=12)
        last = min(last, today - dt.timedelta(days=1))
        gain = rng.choice([0, 1, 1, 2, 2] if plan.cohort_pore_concern != "mild" else [0, 0, 1, 1])
        if plan.cohort_fitzpatrick >= 4 and rng.random() < 0.15:
            gain = -1  # a worse result: PIH made the pores look worse
        after = max(0, min(4, baseline - gain))
        gais = {-1: 5, 0: rng.choice([3, 4]), 1: rng.choice([2, 3]), 2: rng.choice([1, 2])}[gain]
        scores.append(_score(plan, "assessment", after, gais, rated_by, last))
        responses.append((plan, "assessment", last, min(10, 4 + 2 * gain + rng.randint(0, 2)), after + 1, gain > 0))
        if plan.cohort_fitzpatrick >= 4 and (gain < 0 or rng.random() < 0.1):
            events.append((plan, models.AdverseEventType.PIH))
        elif rng.random() < 0.05:
            events.append((plan, models.AdverseEventType.PROLONGED_ERYTHEMA))
    bulk_create_with_history(sessions, models.PlanSession, default_user=rated_by)
    bulk_create_with_history(scores, models.OutcomeScore, default_user=rated_by)
    summarise_outcomes({score.plan_id for score in scores})
    made = models.QuestionnaireResponse.objects.bulk_create(
        [
            models.QuestionnaireResponse(plan=plan, moment=moment, submitted_at=_noon(day))
            for plan, moment, day, *_ in responses
        ]
    )
    for response, (_plan, _moment, _day, satisfaction, visibility, recommend) in zip(made, responses, strict=True):
        answers.append(
            models.QuestionnaireAnswer(response=response, question=question_rows["satisfaction"], value=satisfaction)
        )
        answers.append(
            models.QuestionnaireAnswer(
                response=response, question=question_rows["pore-visibility"], value=min(5, visibility)
            )
        )
        if recommend is not None:
            answers.append(
                models.QuestionnaireAnswer(response=response, question=question_rows["recommend"], value=int(recommend))
            )
    models.QuestionnaireAnswer.objects.bulk_create(answers)
    first_sessions = {s.plan_id: s for s in sessions if s.status == models.SessionStatus.COMPLETED and s.mn_number == 1}
    bulk_create_with_history(
        [
            models.AdverseEvent(
                client=plan.client,
                session=first_sessions[plan.pk],
                plan=plan,
                type=kind,
                severity=models.Severity.MILD,
                onset_on=first_sessions[plan.pk].target + dt.timedelta(days=10),
                description="Demo: patchy darkening on the cheeks, faded with sun protection."
                if kind == models.AdverseEventType.PIH
                else "Demo: redness for a week after the session.",
                action_taken="Strict SPF, azelaic acid; reviewed at the next visit.",
                resolved_on=first_sessions[plan.pk].target + dt.timedelta(days=60),
                recorded_by=rated_by,
                recorded_at=_noon(first_sessions[plan.pk].target + dt.timedelta(days=10)),
            )
            for plan, kind in events
            if plan.pk in first_sessions
        ],
        models.AdverseEvent,
        default_user=rated_by,
    )
    created.append(f"{len(plans)} past plans with outcomes for the report ({len(events)} adverse events)")


def _noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=timezone.get_current_timezone())


def _score(plan, moment, grade, gais, by, day) -> models.OutcomeScore:
    return models.OutcomeScore(plan=plan, moment=moment, pore_grade=grade, gais=gais, rated_by=by, rated_at=_noon(day))
