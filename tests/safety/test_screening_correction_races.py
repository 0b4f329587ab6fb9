"""Two screening corrections of one screen submitted at the same moment, through gunicorn on
PostgreSQL: exactly one becomes the new screen, the other is refused (409, nothing saved),
never a 500 and never a second screen made from answers its author did not see."""

import pytest

from bench.server import staff_cookies
from plans.models import Screening
from tests.helpers.forms import screening_correction
from tests.helpers.http_races import NEEDS_POSTGRES, ON_POSTGRES, fire_reading

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason=NEEDS_POSTGRES),
    pytest.mark.django_db(transaction=True),
]

ROUNDS = 5


@pytest.fixture
def frozen_clock():
    """The server runs on the real clock, so this test does too (tests/safety freezes it otherwise):
    the screen and its corrections are dated the same day, as at the clinic."""
    return None


def test_two_corrections_of_one_screen_at_once_make_exactly_one(screened, clinician, race_server):
    cookies = staff_cookies(clinician.username)
    for n in range(ROUNDS):
        person = screened()
        first = person.screenings.get()
        path = f"/clients/{person.pk}/screening/correct/"
        answers = [
            screening_correction(person, reason=f"Forgot her warfarin ({n})", anticoagulants="yes"),
            screening_correction(person, reason=f"Misheard: she is pregnant ({n})", pregnant_or_nursing="yes"),
        ]

        replies = fire_reading(race_server, [(path, a) for a in answers], cookies)

        statuses = sorted(status for status, _body in replies)
        assert statuses == [302, 409], replies
        refused = next(body for status, body in replies if status == 409).decode()
        assert "no longer the client&#x27;s current one" in refused
        corrections = list(Screening.objects.filter(client=person).exclude(pk=first.pk))
        assert len(corrections) == 1 and corrections[0].corrects_id == first.pk
