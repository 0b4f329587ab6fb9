"""The table of message kinds: one entry per family, and nothing about a kind anywhere else.

A kind is unique per session, so some families carry a suffix (`reminder:48h`, `update:v2`,
`care:post-1`, `precare:pre-14`; see models.MessageKind for the builders). Each entry says:

- `label`: what staff read for a kind of this family ("Reminder, 7 days before");
- `stands`: whether the message still has something true to say when its moment comes
  (None, or the (status, reason) to record instead of sending);
- `content`: what its templates need beyond the common context, read from the session as
  it is at send time, including `invite`, the sessions its .ics lists;
- `invitation`: the iCalendar METHOD it attaches ("REQUEST", "CANCEL") or None.

The templates are `templates/emails/<family>.subject.txt`, `<family>.txt` and `<family>.html`,
extending `emails/base.txt|html`. Adding a kind is one entry below plus those three templates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from plans.models import (
    ConsentKind,
    Message,
    MessageKind,
    MessageStatus,
    PlanSession,
    PlanStatus,
    QuestionnaireResponse,
    ScoreMoment,
    SessionKind,
    SessionStatus,
    SignedConsent,
)
from plans.outbox.links import intake_url, link_max_age_days, link_url, questionnaire_url
from plans.outbox.timing import local_day, local_when

CONFIRMATION = MessageKind.CONFIRMATION
REMINDER = MessageKind.REMINDER
UPDATE = MessageKind.UPDATE
PRE_CARE = MessageKind.PRE_CARE
CANCELLATION = MessageKind.CANCELLATION
CARE = MessageKind.CARE
FOLLOW_UP_INVITE = MessageKind.FOLLOW_UP_INVITE
CONSENT_REQUEST = MessageKind.CONSENT_REQUEST
WAITLIST_OFFER = MessageKind.WAITLIST_OFFER
QUESTIONNAIRE = MessageKind.QUESTIONNAIRE
INTAKE = MessageKind.INTAKE

Verdict = tuple[str, str] | None


@dataclass(frozen=True)
class Family:
    name: str
    title: str  # the family in words, for staff filters
    label: Callable[[Message], str]
    stands: Callable[[Message, dt.datetime], Verdict]
    content: Callable[[Message, dt.datetime], dict]
    invitation: str | None = None
    # Reminders, updates and pre-care notes offer the client confirm and cancel links.
    offers_links: bool = False


def _suffix(message: Message) -> str:
    return message.kind.split(":", 1)[1] if ":" in message.kind else ""


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def reminder_hours(message: Message) -> int:
    return int(_suffix(message).removesuffix("h"))


def _reminder_label(message: Message) -> str:
    try:
        hours = reminder_hours(message)
    except ValueError:
        return f"Reminder ({_suffix(message)})"
    days, rest = divmod(hours, 24)
    if days and not rest:
        return f"Reminder, {days} day{'s' if days != 1 else ''} before"
    return f"Reminder, {hours} hour{'s' if hours != 1 else ''} before"


def _update_label(message: Message) -> str:
    version = _suffix(message).removeprefix("v")
    return f"Update ({_ordinal(int(version))} change)" if version.isdigit() else "Update"


def _note(message: Message, phase: str):
    return message.session.plan.params.care_note(phase, _suffix(message))


def _note_label(prefix: str, phase: str) -> Callable[[Message], str]:
    # Named by its day, not its subject: the subject is care advice ("Restart actives"),
    # clinical text that front desk, who also read the message list, must not see.
    def label(message: Message) -> str:
        note = _note(message, phase)
        if note is None:
            return prefix
        days = abs(note.offset_days)
        if phase == "pre":
            return f"{prefix}, {days} day{'s' if days != 1 else ''} before"
        return f"{prefix}, day {days}" if days else f"{prefix}, the day of treatment"

    return label


def _fixed(text: str) -> Callable[[Message], str]:
    return lambda message: text


# --- Does it still stand? -------------------------------------------------------------------


def _session_still_as_written(message: Message, now: dt.datetime) -> Verdict:
    session = message.session
    if session.status != SessionStatus.BOOKED:
        return MessageStatus.CANCELLED, f"The session is {session.get_status_display().lower()}."
    if session.version != message.session_version:
        return MessageStatus.CANCELLED, "The session was rescheduled after this was written."
    if session.starts_at <= now:
        return MessageStatus.EXPIRED, "The session has already started."
    return None


def _covered_booked(message: Message, now: dt.datetime):
    covered = message.covers_sessions or [message.session_id]
    return (
        PlanSession.objects.filter(pk__in=covered, status=SessionStatus.BOOKED, starts_at__gt=now)
        .select_related("plan__client")
        .order_by("starts_at")
    )


def _confirmation_stands(message: Message, now: dt.datetime) -> Verdict:
    if not _covered_booked(message, now).exists():
        return MessageStatus.CANCELLED, "None of the sessions it confirms is still booked."
    return None


def _session_in(status: str, reason: str) -> Callable[[Message, dt.datetime], Verdict]:
    def stands(message: Message, now: dt.datetime) -> Verdict:
        return None if message.session.status == status else (MessageStatus.CANCELLED, reason)

    return stands


def _plan_not_cancelled(message: Message, now: dt.datetime) -> Verdict:
    if message.session.plan.status == PlanStatus.CANCELLED:
        return MessageStatus.CANCELLED, "The plan was cancelled."
    return None


# --- What the templates need ------------------------------------------------------------------


def _confirmation_content(message: Message, now: dt.datetime) -> dict:
    appointments = list(_covered_booked(message, now))
    # A series confirmation gives each listed appointment its own cancel link; attendance is
    # confirmed from the reminders, one appointment at a time.
    listed = [
        {"label": s.label, "when": local_when(s.starts_at, now=now), "cancel_url": link_url(message, "cancel", s)}
        for s in appointments
    ]
    return {"appointments": listed, "invite": appointments}


def _own_session(message: Message, now: dt.datetime) -> dict:
    return {"invite": [message.session]}


# The reminder this close to a microneedling session carries the link to the pre-session check,
# so the answers are fresh (a check counts for PRE_SESSION_CHECK_VALID_DAYS).
CHECK_LINK_HOURS = 48


def _reminder_content(message: Message, now: dt.datetime) -> dict:
    params = message.session.plan.params
    hours = reminder_hours(message)
    pre_care = params.care_notes_for("pre") if params.reminder_includes_pre_care(hours) else ()
    wants_check = message.session.kind == SessionKind.MICRONEEDLING and hours <= CHECK_LINK_HOURS
    check_url = link_url(message, "check") if wants_check else ""
    return {"pre_care": pre_care, "invite": [message.session], "check_url": check_url}


def _note_content(phase: str) -> Callable[[Message, dt.datetime], dict]:
    def content(message: Message, now: dt.datetime) -> dict:
        note = _note(message, phase)
        if note is None:
            raise LookupError(f"Care note {_suffix(message)!r} is not in the plan's protocol snapshot.")
        return {"note": note}

    return content


def _follow_up_content(message: Message, now: dt.datetime) -> dict:
    session = message.session
    follow_up = session.plan.sessions.filter(kind=SessionKind.FOLLOW_UP).order_by("sequence").first()
    if follow_up and follow_up.status == SessionStatus.BOOKED and follow_up.starts_at:
        return {
            "follow_up": follow_up,
            "follow_up_when": local_when(follow_up.starts_at, now=now),
            "invite": [follow_up],
        }
    anchor = (
        follow_up.target
        if follow_up
        else timezone.localdate(session.starts_at) + dt.timedelta(days=session.plan.params.follow_up_days)
    )
    return {"follow_up": None, "follow_up_date": local_day(anchor, now=now)}


def _consent_still_needed(message: Message, now: dt.datetime) -> Verdict:
    session = message.session
    if session.status != SessionStatus.BOOKED or session.starts_at <= now:
        return MessageStatus.CANCELLED, "The first session is no longer booked ahead."
    if SignedConsent.objects.current(client_id=message.client_id, kind=ConsentKind.TREATMENT):
        return MessageStatus.CANCELLED, "The client has already signed the treatment consent."
    return None


def _consent_content(message: Message, now: dt.datetime) -> dict:
    return {
        "sign_url": link_url(message, "consent"),
        "withdraw_url": link_url(message, "withdraw"),
        "link_days": link_max_age_days("consent"),
        "when": local_when(message.session.starts_at, now=now),
    }


def _offer(message: Message):
    from plans.models import WaitlistOffer

    offer_id = _suffix(message)
    offer = (
        WaitlistOffer.objects.select_related("practitioner", "room", "entry").filter(pk=offer_id).first()
        if offer_id.isdigit()
        else None
    )
    if offer is None or offer.entry.session_id != message.session_id:
        raise LookupError(f"Message {message.pk} names no waitlist offer of its session.")
    return offer


def _offer_still_open(message: Message, now: dt.datetime) -> Verdict:
    """An offer taken by someone else, expired or withdrawn before its email went out is not sent."""
    offer = _offer(message)
    if refusal := offer.refusal(now=now):
        return MessageStatus.CANCELLED, refusal
    if message.session.status != SessionStatus.BOOKED:
        return MessageStatus.CANCELLED, "The appointment it would move is no longer booked."
    return None


def _offer_content(message: Message, now: dt.datetime) -> dict:
    offer = _offer(message)
    return {
        "offer": offer,
        "offer_when": local_when(offer.starts_at),
        "offer_expires": local_when(offer.expires_at),
        "offer_url": link_url(message, "offer"),
    }


def _questionnaire_response(message: Message) -> QuestionnaireResponse | None:
    return QuestionnaireResponse.objects.filter(plan_id=message.session.plan_id, moment=_suffix(message)).first()


def _questionnaire_stands(message: Message, now: dt.datetime) -> Verdict:
    if message.session.plan.status == PlanStatus.CANCELLED:
        return MessageStatus.CANCELLED, "The plan was cancelled."
    response = _questionnaire_response(message)
    if response is None:
        return MessageStatus.CANCELLED, "The questionnaire is no longer there."
    if response.is_submitted:
        return MessageStatus.CANCELLED, "The client has already answered the questionnaire."
    if response.moment == ScoreMoment.BASELINE and message.session.status != SessionStatus.BOOKED:
        # Answers after the first treatment would not describe the skin it started from.
        return MessageStatus.CANCELLED, f"Session 1 is {message.session.get_status_display().lower()}."
    return None


def _questionnaire_content(message: Message, now: dt.datetime) -> dict:
    response = _questionnaire_response(message)
    if response is None:
        raise LookupError(f"No questionnaire for plan {message.session.plan_id} at {_suffix(message)!r}.")
    return {
        "questionnaire_url": questionnaire_url(response),
        "link_days": link_max_age_days("questionnaire"),
        "baseline": response.moment == ScoreMoment.BASELINE,
    }


def _questionnaire_label(message: Message) -> str:
    moment = _suffix(message)
    return f"Questionnaire ({ScoreMoment(moment).label.lower()})" if moment in ScoreMoment.values else "Questionnaire"


def _intake_still_open(message: Message, now: dt.datetime) -> Verdict:
    """Forms already sent back, or a link withdrawn or expired, make the invitation pointless
    (the reason is for staff: the person's own wording is IntakeInvitation.refusal)."""
    invitation = message.intake
    if invitation.submitted_at:
        return MessageStatus.CANCELLED, "The forms came back before this email went out."
    if invitation.revoked_at:
        return MessageStatus.CANCELLED, "The link was withdrawn."
    if now >= invitation.expires_at:
        return MessageStatus.CANCELLED, "The link expired before this email went out."
    return None


def _intake_content(message: Message, now: dt.datetime) -> dict:
    return {
        "intake_url": intake_url(message.intake),
        "link_until": local_when(message.intake.expires_at, now=now),
    }


# --- The table ---------------------------------------------------------------------------------

FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        # In the order a client meets them; staff filter the outbox by these.
        Family(
            CONFIRMATION,
            "Booking confirmations",
            _fixed("Booking confirmation"),
            _confirmation_stands,
            _confirmation_content,
            invitation="REQUEST",
        ),
        Family(
            REMINDER,
            "Reminders",
            _reminder_label,
            _session_still_as_written,
            _reminder_content,
            invitation="REQUEST",
            offers_links=True,
        ),
        Family(
            UPDATE,
            "Updates (moved appointments)",
            _update_label,
            _session_still_as_written,
            _own_session,
            invitation="REQUEST",
            offers_links=True,
        ),
        Family(
            PRE_CARE,
            "Pre-care notes",
            _note_label("Pre-care", "pre"),
            _session_still_as_written,
            _note_content("pre"),
            offers_links=True,
        ),
        Family(
            CANCELLATION,
            "Cancellation notices",
            _fixed("Cancellation notice"),
            _session_in(SessionStatus.CANCELLED, "The session is no longer cancelled."),
            _own_session,
            invitation="CANCEL",
        ),
        Family(
            CARE,
            "Aftercare notes",
            _note_label("Aftercare", "post"),
            _session_in(SessionStatus.COMPLETED, "The session is not recorded as completed."),
            _note_content("post"),
        ),
        Family(
            FOLLOW_UP_INVITE,
            "Follow-up invitations",
            _fixed("Follow-up invitation"),
            _plan_not_cancelled,
            _follow_up_content,
            invitation="REQUEST",
        ),
        # Before session 1: the treatment consent to read and sign at home (written when the
        # series is booked, for a client without a consent in force).
        Family(
            CONSENT_REQUEST,
            "Consent requests",
            _fixed("Consent to sign"),
            _consent_still_needed,
            _consent_content,
        ),
        # A waitlisted client is offered a freed, earlier slot (services/waitlist.py writes it).
        Family(
            WAITLIST_OFFER,
            "Waitlist offers",
            _fixed("Waitlist offer"),
            _offer_still_open,
            _offer_content,
        ),
        # The client's outcome questionnaire (questionnaire:baseline with the booking of session 1,
        # questionnaire:assessment before the follow-up); the link names its response row.
        Family(
            QUESTIONNAIRE,
            "Outcome questionnaires",
            _questionnaire_label,
            _questionnaire_stands,
            _questionnaire_content,
        ),
        # Before the first consultation, to someone who is not a client yet: their intake and
        # screening forms (services/intake.py writes it; the row names the invitation, no session).
        Family(
            INTAKE,
            "New-client forms",
            _fixed("New-client forms"),
            _intake_still_open,
            _intake_content,
        ),
    )
}


def family_of(message: Message) -> Family:
    return FAMILIES[MessageKind.family(message.kind)]


def label(message: Message) -> str:
    """The kind in words for staff; an unknown kind (from a newer version) shows as stored."""
    family = FAMILIES.get(MessageKind.family(message.kind))
    return family.label(message) if family else message.kind


def why_not_standing(message: Message, now: dt.datetime) -> Verdict:
    """(status, reason) when the message must not go out any more, else None."""
    # An intake invitation goes to the address the person gave on the phone, for this one email.
    if message.client_id and not message.client.can_be_emailed:
        return MessageStatus.CANCELLED, "The client no longer accepts email (or has no address)."
    if now > message.send_at + dt.timedelta(minutes=settings.NOTIFICATIONS_GRACE_MINUTES):
        return MessageStatus.EXPIRED, f"Not sent within {settings.NOTIFICATIONS_GRACE_MINUTES} minutes of its time."
    return family_of(message).stands(message, now)
