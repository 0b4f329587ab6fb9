"""Named personas and the fixtures more than one area of the suite uses. Area-specific fixtures live
next to their tests; plain helpers in tests/helpers/."""

import datetime as dt
from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.http import HttpRequest
from django.test import Client

from plans import models
from plans.roles import AESTHETICIAN, CLINIC_ADMIN, FRONT_DESK
from plans.services.privacy import record_access_log
from plans.services.security import user_set_role
from tests.factories import (
    ClientFactory,
    DeviceFactory,
    LotFactory,
    PractitionerFactory,
    ProtocolFactory,
    RoomFactory,
    UserFactory,
)
from tests.helpers.clinic import weekday_hours
from tests.helpers.http_races import gunicorn_server
from tests.helpers.photos import world_photo
from tests.helpers.world import (
    ADVERSE_EVENT,
    CLIENT_NOTES,
    SCREENING_QUESTION,
    World,
    clinical_plan,
    completed_clinical_plan,
    world_outcomes,
)
from tests.plans.factories import clinic_protocol


class AxesAwareClient(Client):
    """Django's test client, whose login() also works with django-axes.

    Axes needs the request to know the address a password comes from, and refuses to check
    a password without one; Client.login() passes none. force_login() needs no password at all.
    """

    def login(self, **credentials):
        request = HttpRequest()
        request.META["REMOTE_ADDR"] = "127.0.0.1"
        return super().login(request=request, **credentials)


@pytest.fixture
def client():
    """pytest-django's `client`, made to work with the login lockout (see AxesAwareClient)."""
    return AxesAwareClient()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2 costs ~0.3 s per user on this machine; tests do not need slow hashes."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def photo_dir(settings, tmp_path):
    """Clinical photos in the test's own folder, never under var/: the folder a test's gunicorn
    (CLINIC_VAR_DIR=tmp_path) stores them in too, so a test can look at exactly the files stored."""
    folder = tmp_path / "photos"
    settings.STORAGES = {
        **settings.STORAGES,
        "clinical_photos": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(folder), "base_url": None},
        },
    }
    return folder


@pytest.fixture
def role_user(db):
    """Factory: a user holding one staff role, e.g. role_user(FRONT_DESK) or role_user("Front desk", username="tom")."""

    def make(role: str, **fields):
        return user_set_role(user=UserFactory(**fields), role=role)

    return make


@pytest.fixture
def aesthetician(role_user):
    """Ana, an aesthetician who books and treats clients all day in the browser."""
    user = role_user(AESTHETICIAN, username="ana", first_name="Ana", last_name="Silva")
    PractitionerFactory(user=user, display_name="Ana Silva")
    return user


@pytest.fixture
def front_desk(role_user):
    """Fiona at reception: books and moves appointments, never sees screening answers or clinical notes."""
    return role_user(FRONT_DESK, username="fiona", first_name="Fiona", last_name="Reid")


@pytest.fixture
def clinic_admin(role_user):
    """Maria, the clinic admin who edits protocols in the Django admin (a role member, not a superuser)."""
    return role_user(CLINIC_ADMIN, username="maria", first_name="Maria", last_name="Costa")


@pytest.fixture
def default_protocols(db):
    """The five shipped protocols and the screening catalogue.

    The data migration creates them, but transactional tests (live_server, workers) flush
    migration rows; the loader is idempotent, so calling it here is safe either way.
    """
    from plans.defaults import load_default_protocols
    from plans.models import Protocol

    load_default_protocols()
    return {protocol.code: protocol for protocol in Protocol.objects.all()}


@pytest.fixture
def clinic(aesthetician):
    """Ana works Monday to Friday 09:00-17:00; Ben the same; two treatment rooms."""
    ana = aesthetician.practitioner
    ben = PractitionerFactory(display_name="Ben Okafor")
    weekday_hours(ana)
    weekday_hours(ben)
    return {"ana": ana, "ben": ben, "room_a": RoomFactory(name="Room A"), "room_b": RoomFactory(name="Room B")}


@pytest.fixture
def protocol(db):
    """One protocol that matches every adult client, with a hard stop, a review and a deferral rule."""
    return clinic_protocol(name="Pores, all skin types", code="pores-all")


@pytest.fixture
def world(aesthetician, front_desk, clinic_admin) -> World:
    """Zoe Quinn's clinical record, a plan, an access-log row and one row of every admin-registered model."""
    client = ClientFactory(first_name="Zoe", last_name="Quinn", email="zoe.quinn@example.com", notes=CLIENT_NOTES)
    question = models.ScreeningQuestion.objects.create(code="pregnant", text=SCREENING_QUESTION)
    screening = models.Screening.objects.create(client=client, screened_by=aesthetician, notes="Discussed pregnancy")
    answer = models.ScreeningAnswer.objects.create(screening=screening, question=question, answer=True)
    protocol = ProtocolFactory()
    plan = clinical_plan(client=client, protocol=protocol, created_by=aesthetician)
    record_access_log(user=aesthetician, client=client, action="view")
    # One row for each admin-registered model that has no factory, so their change pages can be opened.
    AccessAttempt.objects.create(username="someone", ip_address="192.0.2.1", failures_since_start=1)
    AccessLog.objects.create(username="someone", ip_address="192.0.2.1")
    AccessFailureLog.objects.create(username="someone", ip_address="192.0.2.1")
    start = dt.datetime(2026, 1, 6, 9, tzinfo=dt.UTC)
    models.TimeOff.objects.create(starts_at=start, ends_at=start + dt.timedelta(hours=8), reason="Staff training")
    models.WorkerHeartbeat.objects.create(name="worker", seen_at=start)
    # Zoe waits for an earlier slot: the staff waitlist page lists her, clinical record and all.
    models.WaitlistEntry.objects.create(session=plan.sessions.get(), requested_at=start)
    # Switched off, so the world's plans keep the floor's 1.5 mm; the row gives its admin pages something to open.
    models.SafetyException.objects.create(max_depth_mm=Decimal("2.0"), reason="Scar clinic", active=False)
    message = models.Message.objects.create(
        client=client, session=plan.sessions.get(), kind="confirmation", send_at=start, session_version=0
    )
    models.DeliveryAttempt.objects.create(message=message, attempted_at=start, succeeded=False, error="421 try later")
    # Someone who called and was emailed the new-client forms (not a client yet).
    models.IntakeInvitation.objects.create(
        first_name="Ivy",
        last_name="Moss",
        email="ivy.moss@example.com",
        created_at=start,
        expires_at=start + dt.timedelta(days=14),
    )
    device, lot = DeviceFactory(), LotFactory()
    # Mild: recorded, followed up, and no hold on the world's plans.
    event = models.AdverseEvent.objects.create(
        client=client,
        type=models.AdverseEventType.PIH,
        severity=models.Severity.MILD,
        onset_on=dt.date(2026, 1, 10),
        description=ADVERSE_EVENT,
        follow_up_on=dt.date(2026, 1, 24),
        recorded_by=aesthetician,
        recorded_at=start,
    )
    world_outcomes(plan, by=aesthetician, at=start)
    return World(
        client=client,
        screening=screening,
        answer=answer,
        question=question,
        protocol=protocol,
        plan=plan,
        session=plan.sessions.get(),
        practitioner=aesthetician.practitioner,
        room=RoomFactory(),
        device=device,
        lot=lot,
        event=event,
        photo=world_photo(plan.sessions.get(), by=aesthetician),
    )


@pytest.fixture
def completed_plan(world, aesthetician) -> models.TreatmentPlan:
    """A second plan of the world's client whose first session took place, with its post-care email scheduled."""
    plan = completed_clinical_plan(
        client=world.client, protocol=world.protocol, created_by=aesthetician, practitioner=world.practitioner
    )
    models.Message.objects.create(
        client=world.client,
        session=plan.sessions.get(sequence=1),
        kind="care:2",
        send_at=dt.datetime(2026, 1, 21, 9, tzinfo=dt.UTC),
        session_version=0,
    )
    return plan


@pytest.fixture
def race_server(tmp_path):
    """gunicorn on the test database, for races through the front door (tests/helpers/http_races.py)."""
    with gunicorn_server(tmp_path) as server:
        yield server
