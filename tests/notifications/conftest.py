"""Fixtures for the email outbox: plans booked the way the booking services do it, and a real
SMTP server on loopback (aiosmtpd) that can accept, refuse, defer or stall."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import logging
import socket
import threading
import zoneinfo
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from django.db import transaction

from plans import outbox
from plans.models import PlanSession, SessionKind, SessionStatus, TreatmentPlan
from tests.factories import ClientFactory, PractitionerFactory, ProtocolFactory, RoomFactory, UserFactory
from tests.helpers.snapshots import protocol_snapshot

logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
LONDON = zoneinfo.ZoneInfo("Europe/London")

SNAPSHOT = protocol_snapshot(
    name="Fine pores, light skin",
    session_count=3,
    reminder_leads=[
        {"hours_before": 168, "include_pre_care": True},
        {"hours_before": 48, "include_pre_care": False},
        {"hours_before": 24, "include_pre_care": False},
    ],
    care_notes=[
        {"id": "pre-7", "phase": "pre", "offset_days": -7, "subject": "Stop retinoids", "body": "Stop retinoids."},
        {"id": "post-0", "phase": "post", "offset_days": 0, "subject": "The first 24 hours", "body": "Rinse."},
        {"id": "post-1", "phase": "post", "offset_days": 1, "subject": "Days 1 to 3", "body": "Mineral SPF 30+."},
        {"id": "post-5", "phase": "post", "offset_days": 5, "subject": "Restart actives", "body": "From day 5."},
    ],
    follow_up_days=84,
)


def local(y, m, d, hh=9, mm=0, ss=0) -> dt.datetime:
    """A wall-clock time in the clinic's zone."""
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=LONDON)


def make_plan(*, client=None, starts: list[dt.datetime], follow_up: bool = False, snapshot=None) -> TreatmentPlan:
    """A plan whose microneedling sessions are booked at `starts` (not yet announced to the hooks)."""
    client = client or ClientFactory()
    practitioner = PractitionerFactory()
    room = RoomFactory()
    first = starts[0].date()
    plan = TreatmentPlan.objects.create(
        client=client,
        protocol=ProtocolFactory(),
        protocol_snapshot=snapshot or SNAPSHOT,
        requested_start=first,
        earliest_start=first,
        created_by=UserFactory(),
    )
    for number, start in enumerate(starts, 1):
        _session(plan, number, SessionKind.MICRONEEDLING, f"Microneedling {number}", start, practitioner, room, number)
    if follow_up:
        day = starts[-1].date() + dt.timedelta(days=84)
        PlanSession.objects.create(
            plan=plan,
            sequence=len(starts) + 1,
            kind=SessionKind.FOLLOW_UP,
            title="Follow-up assessment",
            earliest=day,
            target=day,
            latest=day,
            duration_minutes=30,
        )
    return plan


def _session(plan, sequence, kind, title, start, practitioner, room, mn_number=None) -> PlanSession:
    return PlanSession.objects.create(
        plan=plan,
        sequence=sequence,
        kind=kind,
        title=title,
        mn_number=mn_number,
        earliest=start.date(),
        target=start.date(),
        latest=start.date(),
        duration_minutes=60,
        status=SessionStatus.BOOKED,
        starts_at=start,
        ends_at=start + dt.timedelta(hours=1),
        blocked_until=start + dt.timedelta(hours=1, minutes=15),
        practitioner=practitioner,
        room=room,
    )


def book(plan: TreatmentPlan) -> list[PlanSession]:
    """What the booking service does: save the booked sessions and call the hook in one transaction."""
    with transaction.atomic():
        sessions = list(plan.sessions.filter(status=SessionStatus.BOOKED).order_by("sequence"))
        outbox.on_sessions_booked(sessions)
    return sessions


def reschedule(session: PlanSession, new_start: dt.datetime) -> PlanSession:
    with transaction.atomic():
        session.starts_at = new_start
        session.ends_at = new_start + dt.timedelta(hours=1)
        session.blocked_until = new_start + dt.timedelta(hours=1, minutes=15)
        session.version += 1
        session.save()
        outbox.on_session_rescheduled(session)
    return session


def cancel(session: PlanSession) -> PlanSession:
    with transaction.atomic():
        session.status = SessionStatus.CANCELLED
        session.save()
        outbox.on_session_cancelled(session)
    return session


def complete(session: PlanSession, at: dt.datetime) -> PlanSession:
    with transaction.atomic():
        session.status = SessionStatus.COMPLETED
        session.completed_at = at
        session.save()
        outbox.on_session_completed(session)
    return session


# --- A real SMTP server on loopback ------------------------------------------------------------


@dataclass
class Mailbox:
    """What the SMTP server received, and how it should answer the next mails."""

    received: list[email.message.EmailMessage] = field(default_factory=list)
    peers: list[tuple] = field(default_factory=list)  # the client address of each accepted mail: one per connection
    rcpt_reply: str = ""  # e.g. "451 4.3.0 Try again later" or "550 5.1.1 No such user"
    stall: bool = False
    hold: bool = False  # like stall, but the mail is accepted once released (a slow server, not a dead sender)
    data_started: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_started.set()
        stalled = self.stall
        while self.stall:
            await asyncio.sleep(0.1)
        while self.hold:
            await asyncio.sleep(0.05)
        if stalled:
            # The sender was killed while we held back the reply: it never learnt of
            # acceptance, so this copy does not count as delivered.
            return "421 4.4.2 Timeout"
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parsed["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self.arrived:
            self.peers.append(session.peer)
            self.received.append(parsed)
            self.arrived.notify_all()
        return "250 Message accepted"

    def wait_for(self, count: int, timeout: float = 30) -> list:
        """The messages received once there are `count` of them; fails rather than returning fewer,
        so a test that expects mail that never comes says so instead of idling to the timeout."""
        with self.arrived:
            arrived = self.arrived.wait_for(lambda: len(self.received) >= count, timeout=timeout)
        assert arrived, f"expected {count} message(s) within {timeout} s, the server received {len(self.received)}"
        return list(self.received)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    mailbox.port = controller.port
    yield mailbox
    mailbox.stall = mailbox.hold = False
    controller.stop()


def attachment(message, content_type: str = "text/calendar") -> bytes | None:
    for part in message.iter_attachments():
        if part.get_content_type() == content_type:
            return part.get_payload(decode=True)
    return None


def text_body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()
