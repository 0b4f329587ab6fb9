"""Helpers for pure engine tests (no Django): profiles with a clean screen, and a one-call planner."""

import datetime as dt

from plans.planning import ClientProfile, PlanRequest, ScreeningAnswer, propose_plan
from tests.engine.protocols import DEFAULTS, QUESTION_CODES

START = dt.date(2026, 3, 2)  # a Monday
ALL_CODES = QUESTION_CODES


def clean_screen(**yes: ScreeningAnswer) -> dict[str, ScreeningAnswer]:
    """Every question answered no, except those given."""
    answers = {code: ScreeningAnswer(False) for code in ALL_CODES}
    answers.update(yes)
    return answers


def profile(*, born=dt.date(1995, 6, 1), fitzpatrick=2, oiliness="normal", severity="mild", **yes) -> ClientProfile:
    return ClientProfile(born, fitzpatrick, oiliness, severity, clean_screen(**yes))


def plan(prof: ClientProfile, *, start=START, chosen=(), protocols=DEFAULTS, min_age=18):
    return propose_plan(PlanRequest(prof, tuple(protocols), start, frozenset(chosen), min_age))
