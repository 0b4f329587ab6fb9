"""Safety fixtures: the shipped protocols and screening catalogue, a clinician, a clinic with
hours, a frozen clock, and clients with accepted (and booked) plans made by the real services."""

import datetime as dt

import pytest
import time_machine

from plans import models
from plans.roles import CLINICIAN
from plans.services import clients
from tests.factories import PractitionerFactory
from tests.helpers.clock import at
from tests.helpers.consent import sign_in_clinic
from tests.helpers.safety import TODAY, book_all, make_plan_for, no_to_all


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(at(TODAY, 8), tick=False) as traveller:
        yield traveller


@pytest.fixture
def as_user(client):
    """The test client logged in as `user`: `as_user(front_desk).post(...)`."""

    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def clinician(role_user):
    """Dr Kay, the clinic's prescriber: signs off review items, decides holds, overrides clinical rules."""
    user = role_user(CLINICIAN, username="drkay", first_name="Kay", last_name="Adeyemi")
    PractitionerFactory(user=user, display_name="Dr Kay Adeyemi")
    return user


@pytest.fixture
def shipped(default_protocols):
    """Only the shipped protocols and their questions are active (other tests may add their own)."""
    from plans.defaults import SCREENING_QUESTIONS

    codes = [code for code, *_ in SCREENING_QUESTIONS]
    models.ScreeningQuestion.objects.update(active=False)
    models.ScreeningQuestion.objects.filter(code__in=codes).update(active=True)
    models.Protocol.objects.filter(code__in=[p for p in default_protocols]).update(active=True)
    return default_protocols


@pytest.fixture
def screened(shipped, aesthetician):
    """Factory: a screened client (Fitzpatrick II, normal skin, mild pores unless told)."""
    counter = iter(range(1000))

    def make(*, yes=None, treatment_consent=True, **profile):
        n = next(counter)
        fields = {
            "first_name": f"Zoe{n}",
            "last_name": "Quinn",
            "email": f"zoe{n}@example.com",
            "email_consent": True,
            "date_of_birth": dt.date(1990, 5, 17),
            "fitzpatrick": 2,
            "oiliness": "normal",
            "pore_concern": "mild",
            **profile,
        }
        client = clients.client_create(**fields, screening=no_to_all(**(yes or {})), screened_by=aesthetician)
        if treatment_consent:  # signed at intake, so microneedling can be completed
            sign_in_clinic(client, aesthetician)
        return client

    return make


@pytest.fixture
def booked_plan(screened, aesthetician, clinic):  # noqa: F811
    """Factory: a client with a P1 plan whose every visit is booked with Ana."""

    def make(**profile):
        client = screened(**profile)
        plan = make_plan_for(client, aesthetician)
        book_all(plan, clinic["ana"])
        plan.refresh_from_db()
        return plan

    return make
