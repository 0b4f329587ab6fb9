import pytest

from tests.plans.factories import clinic_protocol


@pytest.fixture
def protocol(db):
    """One protocol that matches every adult client, with a hard stop, a review and a deferral rule."""
    return clinic_protocol(name="Pores, all skin types", code="pores-all")
