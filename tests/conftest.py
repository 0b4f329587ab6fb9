"""Named personas shared by the whole suite. Area-specific fixtures live next to their tests."""

import pytest
from django.http import HttpRequest
from django.test import Client

from plans.roles import AESTHETICIAN, CLINIC_ADMIN, FRONT_DESK
from plans.services.security import user_set_role
from tests.factories import PractitionerFactory, UserFactory


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
