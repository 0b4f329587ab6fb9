"""factory_boy factories for data that many tests repeat. Personas live in conftest.py; plan scenarios built
from these factories in tests/helpers/plans.py and tests/helpers/world.py."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from plans import models
from plans.cohorts import age_on
from tests.helpers.snapshots import protocol_snapshot


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
        skip_postgeneration_save = True

    first_name = factory.Sequence(lambda n: f"Client{n}")
    last_name = "Example"
    email = factory.LazyAttribute(lambda c: f"{c.first_name.lower()}@example.com")
    phone = "+44 7700 900000"
    date_of_birth = dt.date(1990, 5, 17)
    fitzpatrick = 2
    oiliness = models.Oiliness.NORMAL
    pore_concern = models.Severity.MILD
    email_consent = True

    @factory.post_generation
    def treatment_consent(client, create, extracted, **kwargs):
        """Most tests are about a client who signed the treatment consent at intake, so microneedling
        can be completed and no consent request is emailed; `treatment_consent=False` for one who has not."""
        if create and extracted is not False:
            from tests.helpers.consent import sign_in_clinic

            sign_in_clinic(client, UserFactory(username="intake-witness"), now=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))


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


def planned_depth(params, mn_number: int | None):
    """The depth plan_create gives microneedling session `mn_number` (the engine's rule); None for other kinds."""
    if not mn_number:
        return None
    schedule = params.depth_schedule
    return schedule[min(mn_number, len(schedule)) - 1] if schedule else params.depth_cap_mm


class TreatmentPlanFactory(factory.django.DjangoModelFactory):
    """An accepted plan as plan_create stores it (its snapshot from ProtocolParams.to_snapshot); no sessions."""

    class Meta:
        model = models.TreatmentPlan

    client = factory.SubFactory(ClientFactory)
    protocol = factory.SubFactory(ProtocolFactory)
    protocol_snapshot = factory.LazyFunction(protocol_snapshot)
    requested_start = dt.date(2026, 1, 5)
    earliest_start = factory.SelfAttribute("requested_start")
    created_by = factory.SubFactory(UserFactory)
    # The client as plan_create records them (plans/cohorts.py); give cohort_* to override.
    cohort_fitzpatrick = factory.LazyAttribute(lambda p: p.client.fitzpatrick)
    cohort_age = factory.LazyAttribute(lambda p: age_on(p.client.date_of_birth, p.requested_start))
    cohort_oiliness = factory.LazyAttribute(lambda p: p.client.oiliness)
    cohort_pore_concern = factory.LazyAttribute(lambda p: p.client.pore_concern)


class PlanSessionFactory(factory.django.DjangoModelFactory):
    """A session of a plan, filled in from the plan's snapshot as plan_create does: microneedling number
    `sequence` by default, its depth from the depth schedule, its window the single day `target`.

    `booked_at=` books it there (give `practitioner` and `room` too): the room is blocked until the end
    plus the buffer, as the booking service blocks it.
    """

    class Meta:
        model = models.PlanSession

    class Params:
        booked_at = None

    plan = factory.SubFactory(TreatmentPlanFactory)
    sequence = 1
    kind = models.SessionKind.MICRONEEDLING
    mn_number = factory.LazyAttribute(lambda s: s.sequence if s.kind == models.SessionKind.MICRONEEDLING else None)
    title = factory.LazyAttribute(lambda s: f"Microneedling {s.mn_number} of {s.plan.params.session_count}")
    target = factory.LazyAttribute(lambda s: s.booked_at.date() if s.booked_at else s.plan.earliest_start)
    earliest = factory.SelfAttribute("target")
    latest = factory.SelfAttribute("target")
    duration_minutes = factory.LazyAttribute(lambda s: s.plan.params.session_minutes)
    buffer_minutes = factory.LazyAttribute(lambda s: s.plan.params.buffer_minutes)
    depth_mm = factory.LazyAttribute(lambda s: planned_depth(s.plan.params, s.mn_number))
    status = factory.LazyAttribute(
        lambda s: models.SessionStatus.BOOKED if s.booked_at else models.SessionStatus.PROPOSED
    )
    starts_at = factory.SelfAttribute("booked_at")
    ends_at = factory.LazyAttribute(lambda s: s.booked_at and s.booked_at + dt.timedelta(minutes=s.duration_minutes))
    blocked_until = factory.LazyAttribute(lambda s: s.ends_at and s.ends_at + dt.timedelta(minutes=s.buffer_minutes))


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Device

    name = "Dermapen 4"
    serial_number = factory.Sequence(lambda n: f"DP4-{n:05d}")
    last_serviced_on = dt.date(2026, 1, 1)


class LotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Lot

    kind = models.LotKind.CARTRIDGE
    product = factory.LazyAttribute(
        lambda lot: "16-pin cartridge" if lot.kind == models.LotKind.CARTRIDGE else "Hyaluronic glide serum"
    )
    lot_number = factory.Sequence(lambda n: f"L{n:05d}")
    expires_on = dt.date(2030, 12, 31)
