"""One real outbox message of every family, built the way the app writes them (bookings, a move,
a cancellation, completions), and rendered with build_email as the client would receive it."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.core.mail import EmailMultiAlternatives

from plans.models import Message, MessageKind, MessageStatus, WaitlistEntry, WaitlistOffer
from plans.outbox.kinds import FAMILIES
from plans.outbox.render import build_email
from plans.outbox.write import on_waitlist_offer
from plans.planning import ProtocolParams
from plans.services.intake import intake_invite
from tests.factories import ClientFactory
from tests.helpers.clock import local
from tests.helpers.outbox import book, cancel, complete, reschedule
from tests.helpers.plans import OUTBOX_SNAPSHOT, booked_plan

BUILT_AT = local(2026, 1, 5, 10)

# A pre-care note due 14 days ahead gets an email of its own (the 7-day reminder is too late for it).
WITH_D14 = {
    **OUTBOX_SNAPSHOT,
    "care_notes": [
        {"id": "pre-14", "phase": "pre", "offset_days": -14, "subject": "Avoid tanning", "body": "No sunbeds."},
        *OUTBOX_SNAPSHOT["care_notes"],
    ],
}
assert ProtocolParams.from_snapshot(WITH_D14)


def one_message_per_family() -> dict[str, Message]:
    """{family: message}. Ivy, not a client yet, gets the intake invitation. Zoe's series (no
    consent yet) gives the confirmation, reminders, pre-care note, consent request and, once session
    2 moves, an update; Max's gives a cancellation, an aftercare note and, after his last session,
    the follow-up invitation."""
    with time_machine.travel(BUILT_AT, tick=False):
        zoe = ClientFactory(first_name="Zoe", treatment_consent=False)
        first, second, third = book(
            booked_plan(
                client=zoe, starts=[local(2026, 1, 20), local(2026, 2, 17), local(2026, 3, 17)], snapshot=WITH_D14
            )
        )
        # Only a client who was told the old time is told of a move.
        Message.objects.filter(kind=MessageKind.CONFIRMATION).update(status=MessageStatus.SENT, sent_at=BUILT_AT)
        reschedule(second, local(2026, 2, 18, 11))
        max_ = ClientFactory(first_name="Max")
        m1, m2, m3 = book(
            booked_plan(
                client=max_, starts=[local(2026, 1, 21), local(2026, 2, 18), local(2026, 3, 18)], follow_up=True
            )
        )
        cancel(m1)
        complete(m3, local(2026, 1, 5, 9))
        # Zoe asked for an earlier third session and a freed time is offered to her (the rows the
        # waitlist service writes; which time fits is tests/selfservice's matter).
        entry = WaitlistEntry.objects.create(session=third, requested_at=BUILT_AT)
        offer = WaitlistOffer.objects.create(
            entry=entry,
            practitioner=third.practitioner,
            room=third.room,
            starts_at=third.starts_at - dt.timedelta(days=7),
            created_at=BUILT_AT,
            expires_at=BUILT_AT + dt.timedelta(hours=12),
        )
        on_waitlist_offer(offer)
        # Ivy called the clinic and is emailed her intake forms: the one email about no session.
        intake_invite(first_name="Ivy", last_name="Moss", email="ivy.moss@example.com", by=None)
    found = {}
    for message in Message.objects.order_by("pk"):
        family = MessageKind.family(message.kind)
        # The 48-hour reminder is the one that carries the pre-session check link.
        if family == MessageKind.REMINDER and message.kind != "reminder:48h":
            continue
        found.setdefault(family, message)
    assert set(found) == set(FAMILIES), set(FAMILIES) - set(found)
    return found


def rendered(message: Message) -> EmailMultiAlternatives:
    return build_email(message, now=BUILT_AT, message_id=f"<{message.pk}@clinic.example>")


def html_of(email: EmailMultiAlternatives) -> str:
    ((html, mimetype),) = email.alternatives
    assert mimetype == "text/html"
    return html
