"""Booking fixtures shared by this package's modules: a frozen clock and a logged-in aesthetician."""

import datetime as dt

import pytest
import time_machine

from tests.helpers.clock import at

# Monday 1 February 2027, 08:00 in London: the bookings these tests make lie weeks ahead of it.
NOW = at(dt.date(2027, 2, 1), 8)


@pytest.fixture
def frozen_clock():
    """Modules that book against "now" use it (`pytest.mark.usefixtures("frozen_clock")`); the
    HTTP race tests must not, since their gunicorn server runs on the real clock."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def staff(client, aesthetician):
    client.force_login(aesthetician)
    return client
