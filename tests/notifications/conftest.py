"""The notifications fixtures: a real SMTP server on loopback (tests/helpers/smtp.py's Mailbox), a
staff member who can log in to a stack's web server, and the stacks a test starts (stopped after it)."""

import pytest
from aiosmtpd.controller import Controller

from tests.helpers.ports import free_port
from tests.helpers.smtp import Mailbox
from tests.notifications.stack import Stack, with_password


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


@pytest.fixture
def staff(aesthetician, settings):
    return with_password(aesthetician, settings)


@pytest.fixture
def stack(tmp_path):
    stacks: list[Stack] = []

    def start(**options) -> Stack:
        stacks.append(Stack(tmp_path, **options))
        return stacks[-1]

    yield start
    for s in stacks:
        s.stop()
