"""Clients and their screening: every write, with the rules a client record must keep."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from plans.models import Client, Screening, ScreeningAnswer, ScreeningQuestion
from plans.selectors import client_current_answers, client_current_screening

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

# What the plan engine reads from the client record: a change re-checks every open plan.
PROFILE_FIELDS = ("fitzpatrick", "oiliness", "date_of_birth", "pore_concern")

# question code -> (answer, date it last happened or None)
Answers = Mapping[str, tuple[bool, dt.date | None]]

MAX_AGE = 120
# Free text about a client: room for a page of notes, not for a pasted document (or an attack).
NOTES_MAX_LENGTH = 5000

# Invisible characters that change how the text around them is shown: bidirectional overrides,
# embeddings and isolates (U+202E turns "Anna" in a list into something else) and zero-width
# spaces, joiners and BOMs (two "different" names that look identical). Joiners (U+200C/D) are
# kept between letters, where Persian and Indic names need them.
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}
_ZERO_WIDTH = {"\u200b", "\u2060", "\ufeff", "\u180e"}
_JOINERS = {"\u200c", "\u200d"}


def clean_name(text: str) -> str:
    """A person's name as stored: NFC, without invisible direction or zero-width characters, trimmed.

    Raises ValidationError for control characters (a line break, a NUL): a name is one line.
    Forms, the admin and the services all call this, so a name is the same wherever it was typed.
    """
    text = unicodedata.normalize("NFC", text.strip())
    if any(unicodedata.category(char) == "Cc" or char in "\u2028\u2029" for char in text):
        raise ValidationError("A name is one line of text: remove line breaks, tabs and control characters.")
    kept = []
    for index, char in enumerate(text):
        if char in _BIDI or char in _ZERO_WIDTH:
            continue
        if char in _JOINERS:
            before, after = text[index - 1 : index], text[index + 1 : index + 2]
            if not (before.isalpha() and after.isalpha()):
                continue
        kept.append(char)
    return "".join(kept).strip()


def date_of_birth_problem(date_of_birth: dt.date, *, today: dt.date | None = None) -> str:
    """Why this date of birth cannot be taken ('' when it can). Forms show it as the field's error."""
    today = today or timezone.localdate()
    if date_of_birth > today:
        return "The date of birth is in the future."
    age = today.year - date_of_birth.year - ((today.month, today.day) < (date_of_birth.month, date_of_birth.day))
    if age < settings.CLINIC_MIN_AGE:
        return f"The client is {age}; the clinic treats clients aged {settings.CLINIC_MIN_AGE} or over."
    if age > MAX_AGE:
        return f"That makes the client {age}: check the year of birth."
    return ""


def screened_on_problem(screened_on: dt.date, *, client: Client, today: dt.date | None = None) -> str:
    """Why a screen cannot carry this date ('' when it can): not in the future, not before the client was born."""
    if screened_on > (today or timezone.localdate()):
        return "A screening cannot be dated in the future."
    if screened_on < client.date_of_birth:
        return "A screening cannot be dated before the client was born."
    return ""


def client_with_email(email: str, *, exclude: int | None = None) -> Client | None:
    """The client already using this email, compared case-blind ('Zoe@X.com' is 'zoe@x.com'); None if nobody."""
    if not email.strip():
        return None
    found = Client.objects.filter(email__iexact=email.strip())
    if exclude is not None:
        found = found.exclude(pk=exclude)
    return found.order_by("pk").first()


def notes_problem(notes: str) -> str:
    if len(notes) > NOTES_MAX_LENGTH:
        return f"Notes take at most {NOTES_MAX_LENGTH:,} characters (this has {len(notes):,})."
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


def _validate_client(client: Client) -> None:
    """The rules a client record keeps, on top of the model's own; cleans the names in place."""
    errors: dict[str, str | list] = {}
    for name in ("first_name", "last_name"):
        try:
            setattr(client, name, clean_name(getattr(client, name)))
        except ValidationError as error:
            errors[name] = error.messages
    if problem := date_of_birth_problem(client.date_of_birth):
        errors["date_of_birth"] = problem
    if problem := notes_problem(client.notes):
        errors["notes"] = problem
    if existing := client_with_email(client.email, exclude=client.pk):
        errors["email"] = ValidationError(
            "Client #%(id)s already uses this email.", code="duplicate_email", params={"id": existing.pk}
        )
    if errors:
        raise ValidationError(errors)


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
    screened_on: dt.date | None = None,
    screening_notes: str = "",
) -> Client:
    """A new client, and (when given) their first screening, in one transaction.

    screened_on / screening_notes: a screen the client gave earlier (their intake form) keeps
    the day they answered and says so; a screen taken at the desk is dated today."""
    values = {k: v for k, v in locals().items() if k in CLIENT_FIELDS}
    client = Client(**values)
    _validate_client(client)
    client.full_clean()
    with transaction.atomic():
        client.save()
        if screening is not None:
            screening_record(
                client=client,
                answers=screening,
                screened_by=screened_by,
                screened_on=screened_on,
                notes=screening_notes,
            )
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
    before = {name: getattr(client, name) for name in PROFILE_FIELDS}
    for name, value in changes.items():
        setattr(client, name, value)
    _validate_client(client)
    client.full_clean()
    changed = [name for name in PROFILE_FIELDS if getattr(client, name) != before[name]]
    with transaction.atomic():
        client.save()
        rescreened = screening is not None and screening_differs(client, screening)
        if rescreened:
            screening_record(client=client, answers=screening, screened_by=screened_by)
        elif changed:
            _recheck_plans(client, "Profile changed: " + ", ".join(n.replace("_", " ") for n in changed))
    return client


def _recheck_plans(client: Client, cause: str) -> None:
    # Imported here: the safety service reads plans through services.plans, which imports this module's selectors.
    from plans.services.safety import plans_recheck

    plans_recheck(client=client, cause=cause)


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
    corrects: Screening | None = None,
    correction_reason: str = "",
) -> Screening:
    """A dated screen answering every active question; it becomes the client's current screen.

    Screens are records, never edited: a correction is a new screen naming the one it corrects
    and why (screening_correct).
    """
    screened_on = screened_on or timezone.localdate()
    if problem := screened_on_problem(screened_on, client=client):
        raise ValidationError({"screened_on": problem})
    if problem := notes_problem(notes):
        raise ValidationError({"notes": problem})
    questions = list(ScreeningQuestion.objects.filter(active=True))
    by_code = {q.code: q for q in ScreeningQuestion.objects.filter(code__in=list(answers))}
    if unknown := sorted(set(answers) - set(by_code)):
        raise ValidationError(f"Unknown screening question(s): {', '.join(unknown)}.")
    if problems := screening_problems(answers, questions, today=screened_on):
        raise ValidationError({code: message for code, message in problems.items()})
    with transaction.atomic():
        screening = Screening.objects.create(
            client=client,
            screened_on=screened_on,
            screened_by=screened_by,
            notes=notes,
            corrects=corrects,
            correction_reason=correction_reason,
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
        # Every open plan was made from the previous screen: is it still what the engine would make?
        _recheck_plans(client, f"New screening on {screened_on:%d %b %Y}")
    return screening


SUPERSEDED = (
    "This screening is no longer the client's current one: it was corrected, or a newer screening was "
    "recorded, meanwhile. Nothing was saved; open the client's newest screening and correct that."
)


def screening_correct(
    *, screening: Screening, answers: Answers, reason: str, screened_by: AbstractBaseUser | None
) -> Screening:
    """Correct a recorded screen: a new screen dated today, by the person correcting, saying why.

    The original stays as it was, credited to whoever took it; plans use the newest screen and
    are re-checked against it (screening_record). Only the client's current screen can be
    corrected, and only once (a unique constraint): two people correcting it at the same moment
    make one correction, and the other is told to look at it, never a second screen made from
    answers it never saw.
    """
    reason = reason.strip()
    if not reason:
        raise ValidationError({"correction_reason": "Say why the screening is corrected."})
    if len(reason) > 255:
        raise ValidationError({"correction_reason": "Keep the reason to 255 characters."})
    client = screening.client
    current = client_current_screening(client)
    if current is None or current.pk != screening.pk:
        raise ValidationError(SUPERSEDED, code="superseded")
    if not screening_differs(client, answers):
        raise ValidationError(
            "Nothing to correct: every answer and date is as recorded. Change what was wrong, or cancel.",
            code="unchanged",
        )
    try:
        with transaction.atomic():
            return screening_record(
                client=client,
                answers=answers,
                screened_by=screened_by,
                corrects=screening,
                correction_reason=reason,
            )
    except IntegrityError as exc:
        # The one-correction-per-screening constraint: another correction of it won the race.
        if Screening.objects.filter(corrects=screening).exists():
            raise ValidationError(SUPERSEDED, code="superseded") from exc
        raise
