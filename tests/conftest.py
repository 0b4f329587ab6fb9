"""Named personas shared by the whole suite. Area-specific fixtures live next to their tests."""

import pytest

from tests.factories import PractitionerFactory, UserFactory


@pytest.fixture
def aesthetician(db):
    """Ana, an aesthetician who books and treats clients all day in the browser."""
    user = UserFactory(username="ana", first_name="Ana", last_name="Silva")
    PractitionerFactory(user=user, display_name="Ana Silva")
    return user


@pytest.fixture
def clinic_admin(db):
    """Maria, the clinic admin who edits protocols in the Django admin."""
    return UserFactory(username="maria", is_staff=True, is_superuser=True)


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
