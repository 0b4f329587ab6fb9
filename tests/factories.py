"""factory_boy factories for data that many tests repeat. Personas live in conftest.py."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from plans import models


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@clinic.example")

    @factory.post_generation
    def password(user, create, extracted, **kwargs):
        user.set_password(extracted or "correct-horse-battery")
        if create:
            user.save(update_fields=["password"])


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Client

    first_name = factory.Sequence(lambda n: f"Client{n}")
    last_name = "Example"
    email = factory.LazyAttribute(lambda c: f"{c.first_name.lower()}@example.com")
    phone = "+44 7700 900000"
    date_of_birth = dt.date(1990, 5, 17)
    fitzpatrick = 2
    oiliness = models.Oiliness.NORMAL
    pore_concern = models.Severity.MILD
    email_consent = True


class PractitionerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Practitioner

    user = factory.SubFactory(UserFactory)
    display_name = factory.Sequence(lambda n: f"Practitioner {n}")


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Room

    name = factory.Sequence(lambda n: f"Room {n}")


class ProtocolFactory(factory.django.DjangoModelFactory):
    """A small, valid protocol for tests that do not care about the shipped defaults."""

    class Meta:
        model = models.Protocol

    name = factory.Sequence(lambda n: f"Test protocol {n}")
    code = factory.Sequence(lambda n: f"test-protocol-{n}")
    description = "For tests."
    severities = factory.LazyFunction(lambda: ["mild", "moderate", "severe"])
    oiliness_types = factory.LazyFunction(lambda: ["dry", "normal", "combination", "oily"])
    session_count = 3
    interval_unit = "weeks"
    interval_min = 3
    interval_target = 4
    interval_max = 6
    depth_schedule = factory.LazyFunction(lambda: [0.5, 0.75, 1.0])
    depth_cap_mm = Decimal("1.5")
    # Types I-III: a protocol for IV-VI must keep the floor's 1.0 mm cap, priming and PIH check (plans/safety.py).
    fitzpatrick_max = 3
