"""A new person's intake and screening, filled in by them before the first consultation.

Front desk (or anyone who takes the first call) invites the person by name and email; they get
one email with a signed link, fill in their details and the screening once, and a clinician
reviews the answers, adds what only staff assess (the Fitzpatrick type) and creates the Client
with its screening through services/clients.py, the same service the staff intake uses.

Why the invitation email is an ordinary outbox row: every email the clinic sends is a
plans.Message written in the transaction that causes it and delivered by the one sweep, claim
and retry path (plans/outbox/delivery.py). The person is not a client yet, so an intake row names
its IntakeInvitation instead of a client and session (a CheckConstraint on Message keeps the two
shapes apart: kind "intake" has an invitation and neither of the others, every other kind the
reverse). Delivery, retries, expiry, the staff outbox list and Resend then work unchanged; the
kinds table says when it no longer stands (the forms came back, the link was withdrawn or expired).

The link's scope is the invitation row (outbox/links.py intake_token): it expires at expires_at,
staff can withdraw it, and it is used once: the submit is one conditional UPDATE, so of two
submits at the same moment exactly one is taken and the other is told the forms are in.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone

from plans import selectors
from plans.models import (
    Client,
    IllegalIntakeTransition,
    IntakeInvitation,
    Message,
    MessageKind,
    Oiliness,
    ScreeningQuestion,
    Severity,
)
from plans.outbox.links import BadLink, link_max_age_days, read_intake_token
from plans.services import clients as client_services

log = logging.getLogger(__name__)

PHONE_MAX_LENGTH = 40


class IntakeRefused(Exception):
    """The intake cannot be used or changed this way; the message is for whoever asked.

    conflict: the thing already happened (forms already in, already reviewed): a 409, not a 400."""

    def __init__(self, message: str, *, conflict: bool = False):
        super().__init__(message)
        self.conflict = conflict


def _now() -> dt.datetime:
    return timezone.now()


# --- Inviting --------------------------------------------------------------------------------


def intake_invite(
    *,
    first_name: str,
    last_name: str,
    email: str,
    phone: str = "",
    by: AbstractBaseUser | None,
    now: dt.datetime | None = None,
) -> IntakeInvitation:
    """The invitation and its email, in one transaction: the email goes out with the next sweep."""
    now = now or _now()
    errors: dict[str, list[str] | str] = {}
    names = {}
    for field, value in (("first_name", first_name), ("last_name", last_name)):
        try:
            names[field] = client_services.clean_name(value)
        except ValidationError as error:
            errors[field] = error.messages
        else:
            if not names[field]:
                errors[field] = "Give the person's name."
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = "Give an email address the link can be sent to."
    else:
        if existing := client_services.client_with_email(email):
            errors["email"] = ValidationError(
                "Client #%(id)s already uses this email: open their record instead of inviting them as new.",
                code="duplicate_email",
                params={"id": existing.pk},
            )
    phone = phone.strip()
    if len(phone) > PHONE_MAX_LENGTH:
        errors["phone"] = f"A phone number takes at most {PHONE_MAX_LENGTH} characters."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        _lock_address(email)
        if open_invite := _open_invitation(email, now):
            # A second press of Invite (or a colleague's) would send a second link to fill the
            # same forms: the open one is named instead. Withdraw it to send a new one.
            raise ValidationError(
                {
                    "email": ValidationError(
                        "Forms were already sent to this address on %(day)s and are still open: "
                        "find them in the new-client forms list (withdraw them there to send new ones).",
                        code="already_invited",
                        params={"day": timezone.localtime(open_invite.created_at).strftime("%-d %b %Y")},
                    )
                }
            )
        invitation = IntakeInvitation.objects.create(
            **names,
            email=email,
            phone=phone,
            invited_by=by,
            created_at=now,
            expires_at=now + dt.timedelta(days=link_max_age_days("intake")),
        )
        Message.objects.create(intake=invitation, kind=MessageKind.INTAKE, send_at=now, session_version=0)
    log.info("Intake invitation %s sent by %s", invitation.pk, by)
    return invitation


def _lock_address(email: str) -> None:
    """Invitations to one address queue here, so of two pressed at once the second finds the first
    (SQLite's IMMEDIATE transactions already queue every writer)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"intake:{email.lower()}"])


def _open_invitation(email: str, now: dt.datetime) -> IntakeInvitation | None:
    return (
        IntakeInvitation.objects.filter(
            email__iexact=email, revoked_at__isnull=True, reviewed_at__isnull=True, expires_at__gt=now
        )
        .order_by("-created_at")
        .first()
    )


def intake_revoke(*, invitation: IntakeInvitation, by: AbstractBaseUser, now: dt.datetime | None = None):
    """Staff withdraw a link not used yet (sent to the wrong address, the person changed their mind)."""
    now = now or _now()
    with transaction.atomic():
        invitation = IntakeInvitation.objects.select_for_update().get(pk=invitation.pk)
        try:
            invitation.revoke(by=by, now=now)
        except IllegalIntakeTransition as exc:
            raise IntakeRefused(str(exc), conflict=True) from None
        invitation.save(update_fields=["revoked_at", "revoked_by"])
    return invitation


# --- The person's form -------------------------------------------------------------------------


def intake_from_link(token: str, *, now: dt.datetime | None = None) -> IntakeInvitation:
    """The invitation a link opens; IntakeRefused (409 once the forms are in, else 400) otherwise."""
    try:
        invitation = read_intake_token(token)
    except BadLink as exc:
        raise IntakeRefused(str(exc)) from None
    if refusal := invitation.refusal(now=now or _now()):
        raise IntakeRefused(refusal, conflict=invitation.submitted_at is not None)
    return invitation


def _validated(
    *,
    date_of_birth: dt.date,
    phone: str,
    oiliness: str,
    pore_concern: str,
    screening: client_services.Answers,
    today: dt.date,
) -> None:
    """The staff intake's rules, from the clients service: the form showed them as field errors,
    this refuses anything that reached the service without the form."""
    errors: dict[str, str] = {}
    if problem := client_services.date_of_birth_problem(date_of_birth, today=today):
        errors["date_of_birth"] = problem
    if len(phone) > PHONE_MAX_LENGTH:
        errors["phone"] = f"A phone number takes at most {PHONE_MAX_LENGTH} characters."
    if oiliness not in Oiliness.values:
        errors["oiliness"] = "Choose one of the options."
    if pore_concern not in Severity.values:
        errors["pore_concern"] = "Choose one of the options."
    questions = list(ScreeningQuestion.objects.filter(active=True))
    errors |= client_services.screening_problems(screening, questions, today=today)
    if unknown := set(screening) - {q.code for q in questions}:
        errors["__all__"] = f"Unknown screening question(s): {', '.join(sorted(unknown))}."
    if errors:
        raise ValidationError(errors)


def needs_call(screening: client_services.Answers) -> bool:
    """A yes that a rule stops, defers or sends to review: the clinic calls before the visit."""
    acted_on = selectors.screening_codes_the_rules_act_on()
    return any(yes and code in acted_on for code, (yes, _last) in screening.items())


def intake_submit(
    *,
    invitation: IntakeInvitation,
    date_of_birth: dt.date,
    phone: str,
    email_consent: bool,
    oiliness: str,
    pore_concern: str,
    screening: client_services.Answers,
    now: dt.datetime | None = None,
) -> IntakeInvitation:
    """The person's answers, taken once. One conditional UPDATE decides: a second submit (or one
    racing it, or one after the link was withdrawn or expired) changes nothing and is refused."""
    now = now or _now()
    phone = phone.strip()
    _validated(
        date_of_birth=date_of_birth,
        phone=phone,
        oiliness=oiliness,
        pore_concern=pore_concern,
        screening=screening,
        today=timezone.localdate(now),
    )
    answers = {
        "date_of_birth": date_of_birth.isoformat(),
        "phone": phone,
        "email_consent": bool(email_consent),
        "oiliness": oiliness,
        "pore_concern": pore_concern,
        "screening": {code: [bool(yes), last.isoformat() if last else None] for code, (yes, last) in screening.items()},
    }
    flagged = needs_call(screening)
    with transaction.atomic():
        taken = IntakeInvitation.objects.filter(
            pk=invitation.pk, submitted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now
        ).update(submitted_at=now, answers=answers, needs_call=flagged)
        invitation = IntakeInvitation.objects.get(pk=invitation.pk)
    if not taken:
        raise IntakeRefused(invitation.refusal(now=now), conflict=invitation.submitted_at is not None)
    log.info("Intake %s completed by the client%s", invitation.pk, " (needs a call)" if flagged else "")
    return invitation


# --- Staff review ------------------------------------------------------------------------------


def intake_answers(invitation: IntakeInvitation) -> dict:
    """The stored answers with their dates as dates, in the shape client_create takes."""
    raw = invitation.answers
    return {
        "date_of_birth": dt.date.fromisoformat(raw["date_of_birth"]),
        "phone": raw.get("phone", ""),
        "email_consent": bool(raw.get("email_consent")),
        "oiliness": raw["oiliness"],
        "pore_concern": raw["pore_concern"],
        "screening": {
            code: (bool(yes), dt.date.fromisoformat(last) if last else None)
            for code, (yes, last) in raw["screening"].items()
        },
    }


def intake_review(
    *,
    invitation: IntakeInvitation,
    fitzpatrick: int,
    by: AbstractBaseUser,
    notes: str = "",
    now: dt.datetime | None = None,
) -> Client:
    """A clinician has read the client's answers and assessed the skin type: the Client and its
    screening (as the client gave it, dated the day they answered) are created through the clients
    service, once. The invitation row is locked, so two reviewers make one client; the second is
    told it is done."""
    now = now or _now()
    with transaction.atomic():
        invitation = IntakeInvitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.reviewed_at is not None:
            raise IntakeRefused(
                f"{invitation.full_name}'s forms were already reviewed: their client record exists.", conflict=True
            )
        if invitation.submitted_at is None:
            raise IntakeRefused(f"{invitation.full_name} has not sent their forms back yet.")
        answers = intake_answers(invitation)
        answered_on = timezone.localdate(invitation.submitted_at)
        client = client_services.client_create(
            first_name=invitation.first_name,
            last_name=invitation.last_name,
            email=invitation.email,
            phone=answers["phone"] or invitation.phone,
            date_of_birth=answers["date_of_birth"],
            email_consent=answers["email_consent"],
            oiliness=answers["oiliness"],
            pore_concern=answers["pore_concern"],
            fitzpatrick=fitzpatrick,
            notes=notes,
            screening=answers["screening"],
            screened_by=by,
            screened_on=answered_on,
            screening_notes=f"Given by the client on their intake form on {answered_on:%d %b %Y}; "
            f"reviewed by {by.get_username()}.",
        )
        invitation.mark_reviewed(client=client, by=by, now=now)
        invitation.save(update_fields=["reviewed_at", "reviewed_by", "client"])
    log.info("Intake %s reviewed by %s: client %s", invitation.pk, by, client.pk)
    return client


def intake_purge(*, now: dt.datetime | None = None) -> int:
    """Delete new-client forms that never became a client, INTAKE_KEEP_DAYS after they were sent
    (their link has long stopped working), with their email rows. Returns how many."""
    now = now or _now()
    stale = IntakeInvitation.objects.filter(
        client__isnull=True, created_at__lt=now - dt.timedelta(days=settings.INTAKE_KEEP_DAYS)
    )
    _total, by_model = stale.delete()
    removed = by_model.get(IntakeInvitation._meta.label, 0)
    if removed:
        log.info("%s unanswered or unreviewed new-client forms deleted", removed)
    return removed
