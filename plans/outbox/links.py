"""Signed links in emails: confirm attendance, cancel, unsubscribe, the pre-session check. No login needed.

A token names the message and one session it tells the client about (its own, or one of
the sessions a series confirmation lists), is signed with a salt per purpose (a confirm
token cannot be replayed as a cancel token) and expires after NOTIFICATIONS_LINK_MAX_AGE_DAYS.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

from plans.models import IntakeInvitation, Message, PlanSession, QuestionnaireResponse

# "check": the pre-session check the client fills in from the reminder before microneedling.
# "consent" / "withdraw": sign the treatment consent before session 1, or take it back later.
# "offer": take a freed slot a waitlist offer names (services/waitlist.py).
# "page": the client's own page, scoped to the client (not to one message); see client_token.
# "questionnaire": the outcome questionnaire, scoped to its QuestionnaireResponse; see questionnaire_token.
# "intake": a new person's intake and screening, scoped to its IntakeInvitation; see intake_token.
PURPOSES = (
    "confirm",
    "cancel",
    "unsubscribe",
    "check",
    "consent",
    "withdraw",
    "page",
    "offer",
    "questionnaire",
    "intake",
)


class BadLink(Exception):
    """The link is tampered with, expired, or does not belong to this session."""


@dataclass(frozen=True)
class LinkTarget:
    message: Message
    session: PlanSession  # the appointment the link acts on
    purpose: str
    session_version: int  # the appointment time the email showed; a later reschedule outdates the link


def _signer(purpose: str) -> signing.TimestampSigner:
    if purpose not in PURPOSES:
        raise ValueError(f"Unknown link purpose {purpose!r}.")
    return signing.TimestampSigner(salt=f"plans.links.{purpose}")


def make_token(message: Message, purpose: str, session: PlanSession | None = None) -> str:
    """`session`: one of the sessions a series confirmation lists, at the version the email shows."""
    if session is None:
        session_id, version = message.session_id, message.session_version
    elif session.pk == message.session_id or session.pk in message.covers_sessions:
        session_id, version = session.pk, session.version
    else:
        raise ValueError(f"Message {message.pk} does not tell the client about session {session.pk}.")
    return _signer(purpose).sign_object({"m": message.pk, "s": session_id, "c": message.client_id, "v": version})


def link_url(message: Message, purpose: str, session: PlanSession | None = None) -> str:
    return settings.CLINIC_BASE_URL + reverse(f"public-{purpose}", args=[make_token(message, purpose, session)])


def link_max_age_days(purpose: str) -> int:
    """A signing link lives shorter than the others: it carries a legal signature. An intake link
    too: it opens a health questionnaire for someone the clinic has not met."""
    if purpose == "consent":
        return settings.CONSENT_LINK_MAX_AGE_DAYS
    if purpose == "intake":
        return settings.INTAKE_LINK_MAX_AGE_DAYS
    return settings.NOTIFICATIONS_LINK_MAX_AGE_DAYS


def read_token(token: str, purpose: str) -> LinkTarget:
    """The message a valid token points at; BadLink with a message for the client otherwise."""
    try:
        data = _signer(purpose).unsign_object(token, max_age=link_max_age_days(purpose) * 86400)
    except signing.SignatureExpired:
        raise BadLink("This link has expired.") from None
    except signing.BadSignature:
        raise BadLink("This link is not valid. It may have been copied incompletely.") from None
    message = (
        Message.objects.select_related("client", "session__plan").filter(pk=data.get("m")).first()
        if isinstance(data, dict)
        else None
    )
    session_id = data.get("s") if isinstance(data, dict) else None
    if (
        message is None
        or session_id not in (message.session_id, *message.covers_sessions)
        or message.client_id != data.get("c")
        or message.session.plan.client_id != message.client_id
    ):
        raise BadLink("This link does not match any of your appointments.")
    session = (
        message.session
        if session_id == message.session_id
        else PlanSession.objects.select_related("plan").get(pk=session_id, plan__client_id=message.client_id)
    )
    return LinkTarget(message=message, session=session, purpose=purpose, session_version=int(data.get("v", -1)))


def client_token(access_id: int, client_id: int) -> str:
    """The token of a link to a client's own page: names the access row (its expiry and
    revocation live there) and the client, so another client's token never opens this page."""
    return _signer("page").sign_object({"a": access_id, "c": client_id})


def read_client_token(token: str) -> tuple[int, int]:
    """(access id, client id) of a well-signed page token; BadLink otherwise. Expiry and
    revocation are the access row's (services/selfservice.py reads it)."""
    try:
        data = _signer("page").unsign_object(token)
    except signing.BadSignature:
        raise BadLink("This link is not valid. It may have been copied incompletely.") from None
    if not isinstance(data, dict) or not isinstance(data.get("a"), int) or not isinstance(data.get("c"), int):
        raise BadLink("This link is not valid. It may have been copied incompletely.")
    return data["a"], data["c"]


def questionnaire_token(response: QuestionnaireResponse) -> str:
    """The token of a questionnaire link: names the response row (one per plan and moment) and
    the client, so it opens that questionnaire only, whichever email carried it."""
    return _signer("questionnaire").sign_object({"r": response.pk, "c": response.plan.client_id})


def questionnaire_url(response: QuestionnaireResponse) -> str:
    return settings.CLINIC_BASE_URL + reverse("public-questionnaire", args=[questionnaire_token(response)])


def read_questionnaire_token(token: str) -> QuestionnaireResponse:
    """The response a valid, unexpired token names; BadLink with a message for the client otherwise."""
    try:
        data = _signer("questionnaire").unsign_object(token, max_age=link_max_age_days("questionnaire") * 86400)
    except signing.SignatureExpired:
        raise BadLink("This link has expired.") from None
    except signing.BadSignature:
        raise BadLink("This link is not valid. It may have been copied incompletely.") from None
    if not isinstance(data, dict) or not isinstance(data.get("r"), int) or not isinstance(data.get("c"), int):
        raise BadLink("This link is not valid. It may have been copied incompletely.")
    response = (
        QuestionnaireResponse.objects.select_related("plan__client")
        .filter(pk=data["r"], plan__client_id=data["c"])
        .first()
    )
    if response is None:
        raise BadLink("This link does not match any of our questionnaires.")
    return response


def intake_token(invitation: IntakeInvitation) -> str:
    """The token of an intake link: names the invitation and the address it was sent to, so it
    opens that invitation only. Expiry, revocation and once-only are the row's (services/intake.py)."""
    return _signer("intake").sign_object({"i": invitation.pk, "e": invitation.email.lower()})


def intake_url(invitation: IntakeInvitation) -> str:
    return settings.CLINIC_BASE_URL + reverse("public-intake", args=[intake_token(invitation)])


def read_intake_token(token: str) -> IntakeInvitation:
    """The invitation a well-signed token names; BadLink with a message for the person otherwise."""
    try:
        data = _signer("intake").unsign_object(token)
    except signing.BadSignature:
        raise BadLink("This link is not valid. It may have been copied incompletely.") from None
    if not isinstance(data, dict) or not isinstance(data.get("i"), int) or not isinstance(data.get("e"), str):
        raise BadLink("This link is not valid. It may have been copied incompletely.")
    invitation = IntakeInvitation.objects.filter(pk=data["i"]).first()
    if invitation is None or invitation.email.lower() != data["e"]:
        raise BadLink("This link does not match any of our invitations.")
    return invitation
