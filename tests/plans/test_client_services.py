"""Client and screening writes refuse bad input and change nothing."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from plans.models import Client, Screening
from plans.services import clients
from tests.factories import ClientFactory
from tests.plans.factories import NO_TO_ALL

VALID = dict(
    first_name="Rosa",
    last_name="Lopes",
    email="rosa@example.com",
    phone="+44 7700 900111",
    date_of_birth=dt.date(1988, 4, 2),
    fitzpatrick=3,
    oiliness="combination",
    pore_concern="moderate",
)


def test_client_create_records_the_client_and_their_first_screen(protocol, aesthetician):
    client = clients.client_create(**VALID, screening=NO_TO_ALL, screened_by=aesthetician)

    screen = client.screenings.get()
    assert screen.screened_by == aesthetician
    assert {a.question.code: a.answer for a in screen.answers.all()} == {code: False for code in NO_TO_ALL}


@pytest.mark.parametrize(
    ("born", "message"),
    [(dt.date(2100, 1, 1), "in the future"), (dt.date.today() - dt.timedelta(days=365 * 16), "aged 18 or over")],
)
def test_client_create_refuses_an_impossible_or_too_young_date_of_birth(db, born, message):
    with pytest.raises(ValidationError, match=message):
        clients.client_create(**{**VALID, "date_of_birth": born})
    assert not Client.objects.exists()


def test_a_screen_missing_an_answer_or_a_date_is_refused_and_writes_nothing(protocol, aesthetician):
    client = ClientFactory()
    missing = {k: v for k, v in NO_TO_ALL.items() if k != "anticoagulants"}
    with pytest.raises(ValidationError, match="Answer yes or no"):
        clients.screening_record(client=client, answers=missing, screened_by=aesthetician)
    with pytest.raises(ValidationError, match="Give the date"):
        clients.screening_record(
            client=client, answers={**NO_TO_ALL, "isotretinoin": (True, None)}, screened_by=aesthetician
        )
    assert not Screening.objects.exists()


def test_client_update_records_a_new_screen_only_when_the_answers_change(protocol, aesthetician):
    client = clients.client_create(**VALID, screening=NO_TO_ALL, screened_by=aesthetician)

    clients.client_update(client=client, phone="+44 1", screening=NO_TO_ALL, screened_by=aesthetician)
    assert client.screenings.count() == 1
    clients.client_update(
        client=client, screening={**NO_TO_ALL, "anticoagulants": (True, None)}, screened_by=aesthetician
    )
    assert client.screenings.count() == 2
    assert clients.current_answers(client)["anticoagulants"] == (True, None)
    client.refresh_from_db()
    assert client.phone == "+44 1"
