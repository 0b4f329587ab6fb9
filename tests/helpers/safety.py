"""Safety scenarios: the pre-session check as tests record it (every question answered, "no" unless named),
and plans made and booked by the real services on a fixed Monday."""

import datetime as dt

from plans import models, scheduling
from plans.recheck import CHECK_CODES
from plans.services import booking, safety
from plans.services import plans as plan_services

TODAY = dt.date(2027, 2, 1)  # a Monday
START = dt.date(2027, 2, 8)


def check_answers(**yes: str) -> dict[str, tuple[bool, str]]:
    """`check_answers(recent_tan="Sunbed on Saturday")`: those codes yes with their detail, the rest no."""
    return {code: (code in yes, yes.get(code, "")) for code in CHECK_CODES}


def record_check(session, by=None, **yes: str):
    return safety.pre_session_check_record(session=session, answers=check_answers(**yes), by=by)


def no_to_all(**yes) -> dict:
    """Every active question answered no, except `yes` (code -> date last happened or None)."""
    answers = {q.code: (False, None) for q in models.ScreeningQuestion.objects.filter(active=True)}
    answers.update({code: (True, day) for code, day in yes.items()})
    return answers


def make_plan_for(client, by, start=START, **kwargs):
    return plan_services.plan_create(client=client, start=start, created_by=by, **kwargs)


def book_all(plan, practitioner):
    proposal = booking.series_propose(plan=plan, preferences=scheduling.Preferences(practitioner_id=practitioner.id))
    assert proposal.result.ok, proposal.result.problem
    return booking.series_book(plan=plan, proposal=proposal.result.bookings)


def mn(plan, k: int) -> models.PlanSession:
    return plan.sessions.get(kind=models.SessionKind.MICRONEEDLING, mn_number=k)
