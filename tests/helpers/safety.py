"""The pre-session check as tests record it: every question answered, "no" unless named."""

from plans.safety import CHECK_CODES
from plans.services import safety


def check_answers(**yes: str) -> dict[str, tuple[bool, str]]:
    """`check_answers(recent_tan="Sunbed on Saturday")`: those codes yes with their detail, the rest no."""
    return {code: (code in yes, yes.get(code, "")) for code in CHECK_CODES}


def record_check(session, by=None, **yes: str):
    return safety.pre_session_check_record(session=session, answers=check_answers(**yes), by=by)
