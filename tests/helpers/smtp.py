"""A real SMTP server on loopback (aiosmtpd) that can accept, refuse, defer or stall."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import threading
from dataclasses import dataclass, field

logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO


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
