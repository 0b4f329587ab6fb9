"""Races through the front door on PostgreSQL: a client's move from their page against a staff
booking of the same slot, and a double submit of one move. One wins, nobody gets a 500."""

import datetime as dt

import pytest
from django.conf import settings

from bench.server import staff_cookies
from plans import models
from plans.services import booking, selfservice
from tests.helpers.http_races import DAY, NEEDS_POSTGRES, ON_POSTGRES, anonymous_cookies, fire_each, wall
from tests.helpers.plans import plan_to_book

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason=NEEDS_POSTGRES),
    pytest.mark.django_db(transaction=True),
]
ROUNDS = 4


def _client_session(clinic, n: int) -> tuple[models.PlanSession, str]:
    plan = plan_to_book(first_target=DAY + dt.timedelta(days=7 * n), count=1)
    session = plan.sessions.get()
    booking.session_book(
        session=session,
        starts_at=booking.scheduling.local_instant(session.target, dt.time(9), booking.clinic_tz()),
        practitioner=clinic["ana"],
    )
    url = selfservice.client_page_url(client=plan.client).removeprefix(settings.CLINIC_BASE_URL)
    session.refresh_from_db()
    return session, f"{url}{session.pk}/move/"


def test_a_client_move_and_a_staff_booking_racing_for_one_slot_one_wins_and_no_500(clinic, race_server):
    cookies = staff_cookies("ana")
    for n in range(ROUNDS):
        session, path = _client_session(clinic, n)
        offer = next(o for o in selfservice.reschedule_offers(session=session) if o.practitioner_id == clinic["ana"].id)
        rival = plan_to_book(first_target=session.target, count=1).sessions.get()
        answers = fire_each(
            race_server,
            [
                (path, {"version": session.version, "slot": offer.value}, anonymous_cookies()),
                (
                    f"/sessions/{rival.pk}/book/",
                    {"starts_at": wall(offer.start), "practitioner": offer.practitioner_id, "room": offer.room_id},
                    cookies,
                ),
            ],
            json=False,
        )
        statuses = [status for status, _ in answers]
        assert all(s < 500 for s in statuses), answers
        session.refresh_from_db()
        rival.refresh_from_db()
        client_won = session.starts_at == offer.start
        staff_won = rival.status == models.SessionStatus.BOOKED and rival.starts_at == offer.start
        assert client_won != staff_won, (statuses, client_won, staff_won)
        assert session.client_reschedules == (1 if client_won else 0)


def test_a_double_submit_of_one_move_moves_once(clinic, race_server):
    for n in range(ROUNDS):
        session, path = _client_session(clinic, n + ROUNDS)
        offer = selfservice.reschedule_offers(session=session)[0]
        form = {"version": session.version, "slot": offer.value}
        answers = fire_each(
            race_server, [(path, form, anonymous_cookies()), (path, form, anonymous_cookies())], json=False
        )
        assert sorted(status for status, _ in answers) == [200, 409], answers
        session.refresh_from_db()
        assert session.version == 1 and session.client_reschedules == 1 and session.starts_at == offer.start
