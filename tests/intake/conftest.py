"""Intake fixtures: the clinic's screening catalogue (clinic_protocol: three questions, each with a
rule) plus one question no rule acts on, and helpers to invite and fill in the forms."""

import datetime as dt

import pytest

from plans.models import ScreeningQuestion
from plans.services import intake
from tests.plans.factories import NO_TO_ALL, clinic_protocol

# A question the protocols ask but no rule acts on: a yes to it needs no call.
NO_RULE = "sun_exposure"


@pytest.fixture
def catalogue(db):
    protocol = clinic_protocol(name="Pores, all skin types", code="pores-all")
    ScreeningQuestion.objects.create(code=NO_RULE, text="Recent sun holiday?", position=9)
    return protocol


def answers_all_no() -> dict:
    return {**NO_TO_ALL, NO_RULE: (False, None)}


def filled(**overrides) -> dict:
    """What the person's form hands the service."""
    return {
        "date_of_birth": dt.date(1990, 5, 1),
        "phone": "+44 7700 900222",
        "email_consent": True,
        "oiliness": "oily",
        "pore_concern": "moderate",
        "screening": answers_all_no(),
        **overrides,
    }


def form_post(**overrides) -> dict:
    """The same answers as the public page posts them."""
    data = {
        "date_of_birth": "1990-05-01",
        "phone": "+44 7700 900222",
        "email_consent": "on",
        "oiliness": "oily",
        "pore_concern": "moderate",
    }
    for code in (*NO_TO_ALL, NO_RULE):
        data[f"screen_{code}"] = "no"
    data.update(overrides)
    return data


@pytest.fixture
def invite(front_desk, catalogue):
    def make(email="nina.hart@example.com", **fields):
        return intake.intake_invite(
            first_name=fields.pop("first_name", "Nina"),
            last_name=fields.pop("last_name", "Hart"),
            email=email,
            phone=fields.pop("phone", "+44 7700 900111"),
            by=front_desk,
            **fields,
        )

    return make
