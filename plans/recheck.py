"""Is a plan still what the engine would make today? Pure functions, plain data in and out.

A plan is made once, from the client's profile and screening on that day. Afterwards the
client changes: a new Fitzpatrick type, a pregnancy, a new medicine reported at the
pre-session check. `plan_differences` runs the engine again on the plan's own snapshot
(and on the active protocols, to see whether another protocol would now be chosen) and
lists, one line each, what it would now answer differently and why. Any line means the plan
waits for a clinician (services/safety.py opens the hold).

The pre-session check is a short re-screen. Each of its questions maps onto the full
screening's question codes, so a "yes" triggers exactly the protocol rule a "yes" at the
full screening would (hard stop, deferral, review); a "yes" no rule covers (a new medicine,
anything else) always needs a clinician.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from plans import planning
from plans.safety import CLINIC_FLOOR, Floor


def _mm(value: Decimal) -> str:
    """1.00 -> "1.0", 1.50 -> "1.5", 0.75 -> "0.75": as staff write depths."""
    text = f"{value:.2f}"
    return text[:-1] if text.endswith("0") else text


@dataclass(frozen=True)
class CheckQuestion:
    code: str
    text: str
    # The full screening's question codes a "yes" stands for (each protocol names its own;
    # the shipped catalogue and the test catalogue differ), dated on the day of the check.
    screening_codes: tuple[str, ...] = ()


CHECK_QUESTIONS: tuple[CheckQuestion, ...] = (
    CheckQuestion(
        "pregnant_or_breastfeeding",
        "Since your last visit, have you become pregnant, or started breastfeeding?",
        ("pregnant_or_nursing", "pregnant_nursing"),
    ),
    CheckQuestion(
        "isotretinoin",
        "Have you started or taken isotretinoin (Roaccutane)?",
        ("isotretinoin_current", "isotretinoin_past", "isotretinoin"),
    ),
    CheckQuestion(
        "anticoagulants", "Have you started blood thinners (e.g. warfarin, apixaban, aspirin)?", ("anticoagulants",)
    ),
    CheckQuestion(
        "photosensitising",
        "Have you started a medicine that makes the skin sensitive to light (e.g. doxycycline)?",
        ("photosensitising_drugs",),
    ),
    CheckQuestion("new_medication", "Have you started any other new medicine?"),
    CheckQuestion("recent_tan", "Have you had a tan, sunbed or sunburn on the face?", ("tan_or_sunburn",)),
    CheckQuestion(
        "cold_sore_or_infection",
        "Do you have a cold sore or any skin infection in the area now?",
        ("active_infection",),
    ),
    CheckQuestion(
        "filler_or_toxin",
        "Have you had dermal filler or anti-wrinkle injections (toxin)?",
        ("toxin_or_filler",),
    ),
    CheckQuestion("anything_else", "Is there anything else about your health or skin we should know?"),
)
CHECK_CODES = tuple(q.code for q in CHECK_QUESTIONS)
_BY_CODE = {q.code: q for q in CHECK_QUESTIONS}


@dataclass(frozen=True)
class CheckAnswer:
    yes: bool
    detail: str = ""


def check_problems(answers: Mapping[str, CheckAnswer]) -> dict[str, str]:
    """Per check question code, what is missing (empty when the check is complete)."""
    problems = {}
    for q in CHECK_QUESTIONS:
        answer = answers.get(q.code)
        if answer is None:
            problems[q.code] = "Answer yes or no."
        elif answer.yes and not answer.detail.strip():
            problems[q.code] = "Say what, and when."
    if unknown := sorted(set(answers) - set(CHECK_CODES)):
        problems["__all__"] = f"Unknown question(s): {', '.join(unknown)}."
    return problems


@dataclass(frozen=True)
class ReportedCheck:
    """A recorded pre-session check as the evaluation needs it."""

    day: dt.date
    answers: Mapping[str, CheckAnswer]


def with_checks(profile: planning.ClientProfile, checks: Iterable[ReportedCheck]) -> planning.ClientProfile:
    """The profile with every "yes" of the checks (recorded since its screening) laid over its screening."""
    screening = dict(profile.screening)
    for check in sorted(checks, key=lambda c: c.day):
        for code, answer in check.answers.items():
            question = _BY_CODE.get(code)
            if question is None or not answer.yes:
                continue
            for screening_code in question.screening_codes:
                screening[screening_code] = planning.ScreeningAnswer(True, check.day)
    return replace(profile, screening=screening)


def unmapped_yes_lines(checks: Iterable[ReportedCheck], params: planning.ProtocolParams) -> list[str]:
    """A "yes" that no rule of the plan's protocol answers: a clinician must still hear it."""
    ruled = {rule.question_code for rule in params.contraindications}
    lines = []
    for check in checks:
        for code, answer in check.answers.items():
            question = _BY_CODE.get(code)
            if question and answer.yes and not ruled.intersection(question.screening_codes):
                lines.append(
                    f"Pre-session check {check.day:%d %b %Y}: {question.text.rstrip('?')}: yes ({answer.detail})."
                )
    return lines


@dataclass(frozen=True)
class PlanAsMade:
    """What the plan holds from the day it was made."""

    params: planning.ProtocolParams
    requested_start: dt.date
    earliest_start: dt.date
    review_codes: frozenset[str]
    combinations: frozenset[int] = frozenset()


def plan_differences(
    plan: PlanAsMade,
    profile: planning.ClientProfile,
    *,
    protocols: tuple[planning.ProtocolParams, ...],
    clinic_min_age: int,
) -> list[str]:
    """What the engine would now answer differently from the plan, one line each with its reason.

    1. On the plan's own protocol (its snapshot): a hard stop, a new review item, a later start.
    2. On the active protocols: another protocol chosen (with its cap when lower), or none.
    """
    own = replace(plan.params, active=True)

    def propose(candidates: tuple[planning.ProtocolParams, ...]) -> planning.PlanProposal:
        return planning.propose_plan(
            planning.PlanRequest(
                profile=profile,
                protocols=candidates,
                requested_start=plan.requested_start,
                selected_combinations=plan.combinations,
                clinic_min_age=clinic_min_age,
            )
        )

    lines: list[str] = []
    age = profile.age_on(plan.requested_start)
    if excluded := planning.exclusion_reasons(own, profile, age):
        lines.append("The plan's protocol no longer applies: " + "; ".join(excluded))
    # The screening is judged by the plan's own rules even when the protocol no longer
    # applies: a pregnancy must show as a hard stop whatever else changed. The client is
    # placed inside the protocol's Fitzpatrick range rather than the range widened to I-VI:
    # widened, a I-III protocol would break the safety floor for IV-VI and not be chosen at all.
    everyone = replace(
        own,
        age_min=0,
        age_max=None,
        severities=(profile.pore_severity,),
        oiliness_types=(profile.oiliness,),
    )
    inside = replace(profile, fitzpatrick=min(max(profile.fitzpatrick, own.fitzpatrick_min), own.fitzpatrick_max))
    same = planning.propose_plan(
        planning.PlanRequest(
            profile=inside,
            protocols=(everyone,),
            requested_start=plan.requested_start,
            selected_combinations=plan.combinations,
            clinic_min_age=clinic_min_age,
        )
    )
    lines += [f"Hard stop: {stop}" for stop in same.hard_stops]
    lines += [
        f"New review item: {item.text} ({item.explanation})"
        for item in same.review_items
        if item.question_code not in plan.review_codes
    ]
    if same.earliest_start > plan.earliest_start:
        lines.append(
            f"The start is now deferred to {same.earliest_start:%d %b %Y} (the plan started from "
            f"{plan.earliest_start:%d %b %Y})."
        )
    best = propose(protocols) if protocols else None
    if best is not None and not best.found_no_protocol and best.protocol is not None:
        chosen = best.protocol
        if chosen.code != plan.params.code:
            line = f"Protocol {chosen.name} would now be chosen instead of {plan.params.name}"
            if chosen.depth_cap_mm < plan.params.depth_cap_mm:
                lower, was = _mm(chosen.depth_cap_mm), _mm(plan.params.depth_cap_mm)
                line += f": its depth cap is {lower} mm, lower than the plan's {was} mm"
            lines.append(line + ".")
    elif best is not None and best.found_no_protocol and not same.found_no_protocol:
        lines.append("No active protocol matches the client any more.")
    return lines


def depth_cap_now(
    params: planning.ProtocolParams,
    profile: planning.ClientProfile,
    *,
    protocols: tuple[planning.ProtocolParams, ...],
    clinic_min_age: int,
    requested_start: dt.date,
    floor: Floor = CLINIC_FLOOR,
) -> Decimal:
    """The deepest the client as they are now may be needled on a plan made with `params`:
    its own cap, lowered by the floor's cap for their skin type (IV-VI) and by the cap of the
    protocol the engine would now choose for them. A clinician who continues a plan after a
    change keeps its sessions but not a cap the client no longer has."""
    caps = [params.depth_cap_mm]
    if profile.fitzpatrick in floor.dark_types:
        caps.append(floor.dark_max_depth_mm)
    if protocols:
        best = planning.propose_plan(
            planning.PlanRequest(
                profile=profile,
                protocols=protocols,
                requested_start=requested_start,
                clinic_min_age=clinic_min_age,
                floor=floor,
            )
        )
        if best.protocol is not None:
            caps.append(best.protocol.depth_cap_mm)
    return min(caps)
