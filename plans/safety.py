"""The clinic-wide safety floor: limits no protocol can lower, held here and nowhere else.

Pure Python (standard library only) so the plan engine (plans.planning) can apply it without
Django. The same functions are called twice: when a protocol is saved (model clean, admin
form and inline formsets: the admin says which limit and why) and again by the engine when it
chooses a protocol, so a protocol that breaks the floor (an old row, a data import, a bug in a
form) is never chosen and the rationale says why it was excluded.

The only limit a clinic may raise is the maximum depth, and only through a recorded
clinic-wide exception with a reason (plans.models.SafetyException, audited); the engine gets
the raised value through `Floor.with_max_depth`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Protocol as _Shape

HARD_STOP = "hard_stop"

# Question codes (plans/defaults.py SCREENING_QUESTIONS) whose "yes" always stops a plan.
FIXED_HARD_STOPS: dict[str, str] = {
    "pregnant_or_nursing": "pregnancy or breastfeeding is a labelled contraindication (SkinPen instructions for use)",
    "active_infection": "active infection, including herpes, is a clinic-wide exclusion",
    "isotretinoin_current": "current isotretinoin is a labelled contraindication (SkinPen instructions for use)",
}


@dataclass(frozen=True)
class Floor:
    max_depth_mm: Decimal = Decimal("1.5")
    max_depth_reason: str = "safety above 1.5 mm was not evaluated (SkinPen instructions for use)"
    dark_types: tuple[int, ...] = (4, 5, 6)
    dark_max_depth_mm: Decimal = Decimal("1.0")
    dark_reason: str = "PIH risk in Fitzpatrick IV–VI (Dogra 2014; Chu 2021)"
    # (question code, why): a tuple, so the floor stays hashable like the rest of a PlanRequest.
    hard_stops: tuple[tuple[str, str], ...] = tuple(FIXED_HARD_STOPS.items())

    def with_max_depth(self, depth_mm: Decimal, reason: str) -> Floor:
        """The floor with the clinic's recorded exception to the maximum depth."""
        return replace(self, max_depth_mm=depth_mm, max_depth_reason=f"clinic-wide exception: {reason}")

    def covers_dark_skin(self, fitzpatrick_min: int, fitzpatrick_max: int) -> bool:
        return any(fitzpatrick_min <= t <= fitzpatrick_max for t in self.dark_types)


CLINIC_FLOOR = Floor()


class _Combination(_Shape):
    """What the floor reads of a combination treatment (engine CombinationParams or a model row)."""

    kind: str
    placement: str
    optional: bool
    after_sessions: Iterable[int]


def _mm(value: Decimal) -> str:
    return f"{Decimal(value).normalize():f} mm"


def depth_problems(*, depth_cap_mm: Decimal, fitzpatrick_min: int, fitzpatrick_max: int, floor: Floor) -> list[str]:
    """Why the protocol's depths break the floor ([] when they keep it)."""
    # The engine never needles deeper than the cap, so the cap is what the floor holds down; a
    # schedule entry above the cap is the protocol's own inconsistency (Protocol.clean refuses it).
    problems = []
    deepest = Decimal(depth_cap_mm)
    if deepest > floor.max_depth_mm:
        problems.append(
            f"Maximum depth {_mm(floor.max_depth_mm)}: {floor.max_depth_reason} (this protocol allows {_mm(deepest)})."
        )
    if floor.covers_dark_skin(fitzpatrick_min, fitzpatrick_max) and deepest > floor.dark_max_depth_mm:
        problems.append(
            f"Fitzpatrick IV–VI cap {_mm(floor.dark_max_depth_mm)}: {floor.dark_reason}; this protocol can apply to "
            f"IV–VI and allows {_mm(deepest)}."
        )
    return problems


def rule_problems(actions: Mapping[str, str], floor: Floor) -> list[str]:
    """Why the protocol's contraindication rules (question code -> action) break the floor."""
    # A protocol without one of these rules still stops: the engine applies the floor's hard stops
    # to the answers itself (plans.planning._screen), so only a softened rule is a problem here.
    problems = []
    for code, why in floor.hard_stops:
        action = actions.get(code)
        if action is not None and action != HARD_STOP:
            problems.append(f"The rule for '{code}' must stay a hard stop (not '{action}'): {why}.")
    return problems


def is_pih_check(c: _Combination) -> bool:
    """A PIH check: a required assessment visit after session 1."""
    return (
        c.kind == "assessment"
        and c.placement == "after"
        and not c.optional
        and (not list(c.after_sessions) or 1 in c.after_sessions)
    )


def is_priming(c: _Combination) -> bool:
    return c.kind == "priming" and c.placement == "before_first" and not c.optional


def pih_problems(
    *, fitzpatrick_min: int, fitzpatrick_max: int, combinations: Iterable[_Combination], floor: Floor
) -> list[str]:
    """Why a protocol that can apply to IV–VI lacks the mandatory PIH precautions."""
    if not floor.covers_dark_skin(fitzpatrick_min, fitzpatrick_max):
        return []
    combinations = list(combinations)
    problems = []
    if not any(is_pih_check(c) for c in combinations):
        problems.append(
            f"PIH precautions for Fitzpatrick IV–VI ({floor.dark_reason}): add a required assessment placed after "
            "session 1 (the PIH check)."
        )
    if not any(is_priming(c) for c in combinations):
        problems.append(
            f"PIH precautions for Fitzpatrick IV–VI ({floor.dark_reason}): add required priming before the first "
            "session."
        )
    return problems


def protocol_problems(p, floor: Floor = CLINIC_FLOOR) -> list[str]:
    """Every way an engine ProtocolParams breaks the floor ([] when it keeps it)."""
    return (
        depth_problems(
            depth_cap_mm=p.depth_cap_mm,
            fitzpatrick_min=p.fitzpatrick_min,
            fitzpatrick_max=p.fitzpatrick_max,
            floor=floor,
        )
        + rule_problems({r.question_code: r.action for r in p.contraindications}, floor)
        + pih_problems(
            fitzpatrick_min=p.fitzpatrick_min,
            fitzpatrick_max=p.fitzpatrick_max,
            combinations=p.combinations,
            floor=floor,
        )
    )
