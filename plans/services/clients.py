"""Clients and their screening: every write, with the rules a client record must keep."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from plans.models import Client, Screening, ScreeningAnswer, ScreeningQuestion
from plans.selectors import client_current_answers

CLIENT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "date_of_birth",
    "fitzpatrick",
    "oiliness",
    "pore_concern",
    "email_consent",
    "notes",
)

# question code -> (answer, date it last happened or None)
Answers = Mapping[str, tuple[bool, dt.date | None]]


def date_of_birth_problem(date_of_birth: dt.date, *, today: dt.date | None = None) -> str:
    """Why this date of birth cannot be taken ('' when it can). Forms show it as the field's error."""
    today = today or timezone.localdate()
    if date_of_birth > today:
        return "The date of birth is in the future."
    age = today.year - date_of_birth.year - ((today.month, today.day) < (date_of_birth.month, date_of_birth.day))
    if age < settings.CLINIC_MIN_AGE:
        return f"The client is {age}; the clinic treats clients aged {settings.CLINIC_MIN_AGE} or over."
    return ""


def screening_problems(answers: Answers, questions: list[ScreeningQuestion], *, today: dt.date) -> dict[str, str]:
    """Per question code, what is wrong with its answer (empty when the screen is complete)."""
    problems = {}
    for q in questions:
        if q.code not in answers or answers[q.code][0] is None:
            problems[q.code] = "Answer yes or no."
            continue
        yes, last = answers[q.code]
        if last is not None and not yes:
            problems[q.code] = "A date only goes with a yes."
        elif yes and q.asks_date and last is None:
            problems[q.code] = "Give the date it last happened."
        elif last is not None and last > today:
            problems[q.code] = "The date is in the future."
    return problems


def _validate_client(values: Mapping) -> None:
    if problem := date_of_birth_problem(values["date_of_birth"]):
        raise ValidationError({"date_of_birth": problem})


def client_create(
    *,
    first_name: str,
    last_name: str,
    date_of_birth: dt.date,
    fitzpatrick: int,
    oiliness: str,
    pore_concern: str,
    email: str = "",
    phone: str = "",
    email_consent: bool = False,
    notes: str = "",
    screening: Answers | None = None,
    screened_by: AbstractBaseUser | None = None,
) -> Client:
    """A new client, and (when given) their first screening, in one transaction."""
    values = {k: v for k, v in locals().items() if k in CLIENT_FIELDS}
    _validate_client(values)
    client = Client(**values)
    client.full_clean()
    with transaction.atomic():
        client.save()
        if screening is not None:
            screening_record(client=client, answers=screening, screened_by=screened_by)
    return client


def client_update(
    *,
    client: Client,
    screening: Answers | None = None,
    screened_by: AbstractBaseUser | None = None,
    **changes,
) -> Client:
    """Change a client's details; a screen that differs from the current one is recorded as a new screen."""
    unknown = set(changes) - set(CLIENT_FIELDS)
    if unknown:
        raise TypeError(f"client_update() got unknown fields: {', '.join(sorted(unknown))}")
    for name, value in changes.items():
        setattr(client, name, value)
    _validate_client({"date_of_birth": client.date_of_birth})
    client.full_clean()
    with transaction.atomic():
        client.save()
        if screening is not None and screening_differs(client, screening):
            screening_record(client=client, answers=screening, screened_by=screened_by)
    return client


def current_answers(client: Client) -> dict[str, tuple[bool, dt.date | None]]:
    return {a.question.code: (a.answer, a.last_date) for a in client_current_answers(client)}


def screening_differs(client: Client, answers: Answers) -> bool:
    return current_answers(client) != {code: (bool(a), d) for code, (a, d) in answers.items()}


def screening_record(
    *,
    client: Client,
    answers: Answers,
    screened_by: AbstractBaseUser | None,
    screened_on: dt.date | None = None,
    notes: str = "",
) -> Screening:
    """A dated screen answering every active question; it becomes the client's current screen."""
    screened_on = screened_on or timezone.localdate()
    questions = list(ScreeningQuestion.objects.filter(active=True))
    by_code = {q.code: q for q in ScreeningQuestion.objects.filter(code__in=list(answers))}
    if unknown := sorted(set(answers) - set(by_code)):
        raise ValidationError(f"Unknown screening question(s): {', '.join(unknown)}.")
    if problems := screening_problems(answers, questions, today=screened_on):
        raise ValidationError({code: message for code, message in problems.items()})
    with transaction.atomic():
        screening = Screening.objects.create(
            client=client, screened_on=screened_on, screened_by=screened_by, notes=notes
        )
        # Screening answers are health data: their creation belongs in the audit trail too.
        bulk_create_with_history(
            [
                ScreeningAnswer(screening=screening, question=by_code[code], answer=bool(yes), last_date=last)
                for code, (yes, last) in answers.items()
            ],
            ScreeningAnswer,
            default_user=screened_by,
        )
    return screening
