"""Two waitlisted clients taking the same freed slot at once, over HTTP on PostgreSQL: exactly one
booking, the other told kindly and still on the list, nobody gets a 500."""

import datetime as dt

import pytest
from django.conf import settings

from bench.server import staff_cookies
from plans.models import Message, MessageKind, OfferStatus, PlanSession, SessionStatus, WaitlistEntry, WaitlistOffer
from plans.outbox.links import link_url
from tests.helpers.clock import at
from tests.helpers.http_races import DAY, NEEDS_POSTGRES, ON_POSTGRES, anonymous_cookies, fire_each, wall
from tests.helpers.waitlist import booked_single, rival_cancels, waitlisted

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason=NEEDS_POSTGRES),
    pytest.mark.django_db(transaction=True),
]
ROUNDS = 4
MONDAY = DAY - dt.timedelta(days=DAY.weekday()) + dt.timedelta(days=7)  # about two months ahead


def _offer_path(offer: WaitlistOffer) -> str:
    message = Message.objects.get(kind=MessageKind.waitlist_offer(offer.pk))
    return link_url(message, "offer").removeprefix(settings.CLINIC_BASE_URL)


def test_two_clients_taking_one_offered_slot_at_once_one_gets_it_and_no_500(clinic, race_server):
    for n in range(ROUNDS):
        monday = MONDAY + dt.timedelta(days=7 * n)
        first = waitlisted(clinic["ana"], at(monday, 9))
        second = waitlisted(clinic["ana"], at(monday, 11))
        freed = at(monday - dt.timedelta(days=5), 10)  # the Wednesday before, inside both windows
        rival_cancels(booked_single(clinic["ana"], freed))
        offers = [WaitlistOffer.objects.get(entry__session=s, starts_at=freed) for s in (first, second)]
        answers = fire_each(race_server, [(_offer_path(o), {}, anonymous_cookies()) for o in offers], json=False)
        statuses = sorted(status for status, _ in answers)
        assert statuses == [200, 409], answers
        loser_page = next(body.decode() for status, body in answers if status == 409)
        assert "Someone took it first" in loser_page and "stay on the waitlist" in loser_page
        at_freed = PlanSession.objects.filter(
            practitioner=clinic["ana"], starts_at=freed, status=SessionStatus.BOOKED
        ).count()
        assert at_freed == 1
        moved = [s for s in (first, second) if PlanSession.objects.get(pk=s.pk).starts_at == freed]
        assert len(moved) == 1
        (winner,) = moved
        loser = second if winner == first else first
        assert PlanSession.objects.get(pk=loser.pk).starts_at == loser.starts_at
        assert WaitlistEntry.objects.get(session=winner).status == "booked"
        assert WaitlistEntry.objects.get(session=loser).is_live
        statuses = dict(
            WaitlistOffer.objects.filter(pk__in=[o.pk for o in offers]).values_list("entry__session", "status")
        )
        assert statuses == {winner.pk: OfferStatus.ACCEPTED, loser.pk: OfferStatus.LOST}


def test_a_double_submit_of_one_offer_books_once(clinic, race_server):
    monday = MONDAY + dt.timedelta(days=7 * ROUNDS)
    waiting = waitlisted(clinic["ana"], at(monday, 9))
    freed = at(monday - dt.timedelta(days=5), 10)
    rival_cancels(booked_single(clinic["ana"], freed))
    path = _offer_path(WaitlistOffer.objects.get(entry__session=waiting))
    answers = fire_each(race_server, [(path, {}, anonymous_cookies()), (path, {}, anonymous_cookies())], json=False)
    assert all(status < 500 for status, _ in answers), answers
    assert sorted(status for status, _ in answers) == [200, 409], answers
    session = PlanSession.objects.get(pk=waiting.pk)
    assert session.starts_at == freed and session.version == waiting.version + 1


def test_asking_for_an_earlier_slot_twice_at_once_makes_one_entry(clinic, race_server):
    from plans.services import selfservice

    monday = MONDAY + dt.timedelta(days=7 * (ROUNDS + 1))
    session = booked_single(clinic["ana"], at(monday, 9))
    page = selfservice.client_page_url(client=session.plan.client).removeprefix(settings.CLINIC_BASE_URL)
    path = f"{page}{session.pk}/wait/"
    answers = fire_each(race_server, [(path, {}, anonymous_cookies()) for _ in range(3)], json=False)
    assert [status for status, _ in answers] == [200, 200, 200], answers
    assert WaitlistEntry.objects.filter(session=session).count() == 1


def test_staff_removing_an_entry_while_the_client_takes_its_offer_no_500_and_one_outcome(clinic, race_server):
    from bench.server import staff_cookies

    monday = MONDAY + dt.timedelta(days=7 * (ROUNDS + 2))
    waiting = waitlisted(clinic["ana"], at(monday, 9))
    freed = at(monday - dt.timedelta(days=5), 10)
    rival_cancels(booked_single(clinic["ana"], freed))
    offer = WaitlistOffer.objects.get(entry__session=waiting)
    answers = fire_each(
        race_server,
        [
            (_offer_path(offer), {}, anonymous_cookies()),
            (f"/waitlist/{offer.entry_id}/remove/", {}, staff_cookies("ana")),
        ],
        json=False,
    )
    assert all(status < 500 for status, _ in answers), answers
    entry = WaitlistEntry.objects.get(pk=offer.entry_id)
    moved = PlanSession.objects.get(pk=waiting.pk).starts_at == freed
    assert entry.status == ("booked" if moved else "withdrawn")


def test_two_staff_moves_at_once_offer_the_times_they_free_once_each_and_no_500(clinic, race_server):
    """Both moves write offers to the same waitlisted clients in their own transactions: no
    deadlock between them (entries are offered in one order, oldest request first), no 500, and
    each freed time reaches each client once."""
    cookies = staff_cookies("ana")
    monday = MONDAY + dt.timedelta(days=7 * (ROUNDS + 3))
    wednesday = monday - dt.timedelta(days=5)
    waiting = [waitlisted(clinic["ana"], at(monday, hour)) for hour in (9, 11)]
    movers = [booked_single(clinic["ana"], at(wednesday, hour)) for hour in (10, 14)]
    answers = fire_each(
        race_server,
        [
            (
                f"/sessions/{m.pk}/reschedule/",
                {"starts_at": wall(at(monday + dt.timedelta(days=2), hour)), "practitioner": clinic["ana"].pk},
                cookies,
            )
            for m, hour in zip(movers, (12, 15), strict=True)
        ],
    )  # JSON, as the calendar asks: the answer says what happened
    assert [status for status, _ in answers] == [200, 200], answers
    assert all(PlanSession.objects.get(pk=m.pk).version == m.version + 1 for m in movers), answers
    for session in waiting:
        offered = list(WaitlistOffer.objects.filter(entry__session=session).values_list("starts_at", flat=True))
        assert len(offered) == len(set(offered)), offered  # once per freed time per client
        assert set(offered) <= {at(wednesday, 10), at(wednesday, 14)}
    # Each freed time went to someone (a few clients at a time: WAITLIST_OFFERS_AT_ONCE).
    offered_times = set(WaitlistOffer.objects.filter(entry__session__in=waiting).values_list("starts_at", flat=True))
    assert offered_times == {at(wednesday, 10), at(wednesday, 14)}
