"""Self-service fixtures: a frozen clock and a client whose series of three is booked."""

import datetime as dt

import pytest
import time_machine

from plans import scheduling
from plans.services import booking
from tests.helpers.clock import at
from tests.helpers.plans import plan_to_book

# Monday 1 February 2027, 08:00 in London: the series below starts four weeks later.
NOW = at(dt.date(2027, 2, 1), 8)
MON = dt.date(2027, 3, 1)


@pytest.fixture
def frozen_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def booked_plan(clinic, frozen_clock):
    """Three microneedling sessions 28 days apart from Monday 1 March 2027, booked with Ana."""
    plan = plan_to_book(first_target=MON)
    proposal = booking.series_propose(plan=plan, preferences=scheduling.Preferences(practitioner_id=clinic["ana"].id))
    assert proposal.result.ok, proposal.result.problem
    booking.series_book(plan=plan, proposal=proposal.result.bookings)
    return plan
