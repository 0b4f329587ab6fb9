"""The waitlist from the client's side and the clinic's: asking for an earlier slot, the offer a
freed slot writes (once per client, a few clients at a time, in order of request), expiry
moving it to the next client, taking it, and staff seeing it all."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from plans.models import (
    Message,
    MessageKind,
    OfferStatus,
    PlanSession,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistStatus,
)
from plans.outbox.links import link_url
from plans.services import booking, selfservice, waitlist
from plans.worklist import worklist
from tests.helpers.clock import as_client_reads, at
from tests.helpers.waitlist import booked_single, rival_cancels, waitlisted
from tests.selfservice.conftest import MON, NOW

pytestmark = pytest.mark.usefixtures("frozen_clock")

WED = MON - dt.timedelta(days=5)  # Wednesday 24 February, inside a MON-target window


def rebook(session, start, practitioner) -> None:
    booking.session_book(session=PlanSession.objects.get(pk=session.pk), starts_at=start, practitioner=practitioner)


def page_path(client_obj) -> str:
    return selfservice.client_page_url(client=client_obj).removeprefix("http://127.0.0.1:8000")


def offers_of(session) -> list[WaitlistOffer]:
    return list(WaitlistOffer.objects.filter(entry__session=session).order_by("id"))


def offer_emails(session) -> list[Message]:
    return list(Message.objects.filter(session=session, kind__startswith=MessageKind.WAITLIST_OFFER_PREFIX))


def offer_path(offer: WaitlistOffer) -> str:
    message = Message.objects.get(kind=MessageKind.waitlist_offer(offer.pk))
    return link_url(message, "offer").removeprefix("http://127.0.0.1:8000")


@pytest.mark.django_db
def test_asking_twice_for_an_earlier_slot_makes_one_entry_and_the_page_offers_to_leave(client, clinic):
    session = booked_single(clinic["ana"], at(MON, 9))
    path = page_path(session.plan.client)
    token = path.split("/")[3]
    page = client.get(path).content.decode()
    assert "Ask for an earlier slot" in page
    for _ in range(2):
        response = client.post(reverse("public-page-wait", args=[token, session.pk]))
        assert response.status_code == 200 and "You are on the waitlist" in response.content.decode()
    assert WaitlistEntry.objects.filter(session=session).count() == 1
    page = client.get(path).content.decode()
    assert "Leave the waitlist" in page and "Ask for an earlier slot" not in page
    client.post(reverse("public-page-unwait", args=[token, session.pk]))
    assert WaitlistEntry.objects.get(session=session).status == WaitlistStatus.WITHDRAWN
    assert "Ask for an earlier slot" in client.get(path).content.decode()


@pytest.mark.django_db
def test_a_session_on_the_first_day_its_window_allows_cannot_ask_for_earlier(client, clinic):
    session = booked_single(clinic["ana"], at(MON - dt.timedelta(days=7), 9), target=MON)  # its earliest day
    path = page_path(session.plan.client)
    assert "Ask for an earlier slot" not in client.get(path).content.decode()
    response = client.post(reverse("public-page-wait", args=[path.split("/")[3], session.pk]))
    assert response.status_code == 409 and "earliest day" in response.content.decode()
    assert not WaitlistEntry.objects.exists()


@pytest.mark.django_db
def test_inside_the_cut_off_the_client_cannot_join(client, clinic, settings):
    session = booked_single(clinic["ana"], at(MON, 9))
    settings.CANCELLATION_CUTOFF_HOURS = 24 * 40  # the appointment is inside the cut-off now
    path = page_path(session.plan.client)
    response = client.post(reverse("public-page-wait", args=[path.split("/")[3], session.pk]))
    assert response.status_code == 409 and settings.CLINIC_PHONE in response.content.decode()
    assert not WaitlistEntry.objects.exists()


@pytest.mark.django_db
def test_a_cancellation_offers_its_slot_once_per_client_however_often_it_frees(clinic):
    waiting = waitlisted(clinic["ana"], at(MON, 9))
    rival = booked_single(clinic["ana"], at(WED, 10))
    rival_cancels(rival)
    (offer,) = offers_of(waiting)
    assert (offer.practitioner_id, offer.starts_at, offer.status) == (clinic["ana"].id, at(WED, 10), OfferStatus.OPEN)
    assert len(offer_emails(waiting)) == 1
    assert WaitlistEntry.objects.get(session=waiting).status == WaitlistStatus.OFFERED
    # The rival books the same time again and cancels again; the beat runs twice: nothing more.
    rebook(rival, at(WED, 10), clinic["ana"])
    rival_cancels(PlanSession.objects.get(pk=rival.pk))
    waitlist.waitlist_sweep()
    waitlist.waitlist_sweep()
    assert len(offers_of(waiting)) == 1 and len(offer_emails(waiting)) == 1


@pytest.mark.django_db
def test_staff_moving_a_booking_away_offers_the_time_it_held(clinic):
    waiting = waitlisted(clinic["ana"], at(MON, 9))
    rival = booked_single(clinic["ana"], at(WED, 10))
    assert offers_of(waiting) == []
    booking.session_reschedule(session=rival, starts_at=at(WED, 15), practitioner=clinic["ana"])
    (offer,) = offers_of(waiting)
    assert (offer.practitioner_id, offer.starts_at) == (clinic["ana"].id, at(WED, 10))
    assert len(offer_emails(waiting)) == 1
    # Moved again: 10:00 is not offered a second time.
    booking.session_reschedule(session=PlanSession.objects.get(pk=rival.pk), starts_at=at(WED, 16),
                               practitioner=clinic["ana"])  # fmt: skip
    assert [o.starts_at for o in offers_of(waiting)].count(at(WED, 10)) == 1


@pytest.mark.django_db
def test_a_client_moving_their_own_booking_offers_its_old_time_to_the_list(clinic):
    waiting = waitlisted(clinic["ana"], at(MON, 9))
    mover = booked_single(clinic["ana"], at(WED, 10))
    access = selfservice.client_access_issue(client=mover.plan.client)
    (offer_slot, *_) = [o for o in selfservice.reschedule_offers(session=mover) if o.start > at(WED, 10)]
    selfservice.session_reschedule_by_client(access=access, session_id=mover.pk, version=mover.version,
                                             slot=offer_slot.value)  # fmt: skip
    assert at(WED, 10) in [o.starts_at for o in offers_of(waiting)]


@pytest.mark.django_db
def test_a_freed_slot_goes_to_a_few_clients_in_order_of_request_and_expiry_moves_it_on(clinic, settings, frozen_clock):
    settings.WAITLIST_OFFERS_AT_ONCE = 2
    first = waitlisted(clinic["ana"], at(MON, 9))
    frozen_clock.shift(dt.timedelta(minutes=1))
    second = waitlisted(clinic["ana"], at(MON, 11))
    frozen_clock.shift(dt.timedelta(minutes=1))
    third = waitlisted(clinic["ana"], at(MON, 14))
    rival_cancels(booked_single(clinic["ana"], at(WED, 10)))
    assert [len(offers_of(s)) for s in (first, second, third)] == [1, 1, 0]
    frozen_clock.shift(dt.timedelta(hours=settings.WAITLIST_OFFER_HOURS - 1))
    assert waitlist.waitlist_sweep().offered == 0  # not yet expired
    frozen_clock.shift(dt.timedelta(hours=1, minutes=1))
    result = waitlist.waitlist_sweep()
    assert result.expired_offers == 2 and result.offered == 1
    assert [o.status for o in offers_of(first)] == [OfferStatus.EXPIRED]
    (third_offer,) = offers_of(third)
    assert third_offer.starts_at == at(WED, 10) and len(offer_emails(third)) == 1
    # The first two wait for the next freed slot; a second sweep writes nothing.
    assert WaitlistEntry.objects.get(session=first).status == WaitlistStatus.ACTIVE
    assert waitlist.waitlist_sweep().offered == 0
    assert WaitlistOffer.objects.count() == 3


@pytest.mark.django_db
def test_a_slot_later_than_the_booking_or_outside_the_window_is_not_offered(clinic):
    waiting = waitlisted(clinic["ana"], at(MON, 9))
    rival_cancels(booked_single(clinic["ana"], at(MON + dt.timedelta(days=2), 10)))  # later: no use
    rival_cancels(booked_single(clinic["ana"], at(MON - dt.timedelta(days=10), 10)))  # before the window
    assert offers_of(waiting) == []


@pytest.mark.django_db
def test_taking_an_offer_moves_the_session_and_the_others_offers_are_lost(client, clinic):
    first = waitlisted(clinic["ana"], at(MON, 9))
    second = waitlisted(clinic["ana"], at(MON, 11))
    rival_cancels(booked_single(clinic["ana"], at(WED, 10)))
    (mine,), (theirs,) = offers_of(first), offers_of(second)
    page = client.get(offer_path(mine)).content.decode()
    assert "Take this slot" in page and as_client_reads(at(WED, 10), timezone.now()) in page, page
    response = client.post(offer_path(mine))
    assert response.status_code == 200 and "The earlier time is yours" in response.content.decode()
    moved = PlanSession.objects.get(pk=first.pk)
    assert moved.starts_at == at(WED, 10) and moved.version == first.version + 1
    # Taking an offer is the client's own move: it counts toward their online reschedules.
    assert moved.client_reschedules == 1
    # The staff path's outbox: the confirmation not yet sent renders the new time (no separate update).
    assert Message.objects.filter(session=moved, kind=MessageKind.CONFIRMATION, status="pending").exists()
    assert WaitlistEntry.objects.get(session=first).status == WaitlistStatus.BOOKED
    theirs.refresh_from_db()
    assert theirs.status == OfferStatus.LOST
    # The second client is told kindly and stays on the list, booked as before.
    response = client.post(offer_path(theirs))
    text = response.content.decode()
    assert response.status_code == 409 and "Someone took it first" in text and "stay on the waitlist" in text
    assert PlanSession.objects.get(pk=second.pk).starts_at == at(MON, 11)
    assert WaitlistEntry.objects.get(session=second).is_live
    # The first client's old time (Monday 09:00) was freed in the same move: offered to the second.
    (_lost, freed) = offers_of(second)
    assert freed.starts_at == at(MON, 9) and freed.status == OfferStatus.OPEN
    groups = {g.code: g for g in worklist(clinical=False, now=NOW)}
    assert [i.session_id for i in groups["waitlist-taken"].items] == [first.pk]
    moved_on_page = groups["moved-by-client"].items if "moved-by-client" in groups else []
    assert first.pk not in [i.session_id for i in moved_on_page]  # one group per move, not two


@pytest.mark.django_db
def test_a_slot_booked_by_staff_meanwhile_is_refused_kindly_and_the_client_stays_waiting(client, clinic):
    waiting = waitlisted(clinic["ana"], at(MON, 9))
    rival = booked_single(clinic["ana"], at(WED, 10))
    rival_cancels(rival)
    (offer,) = offers_of(waiting)
    rebook(rival, at(WED, 10), clinic["ana"])
    response = client.post(offer_path(offer))
    assert response.status_code == 409 and "Someone took it first" in response.content.decode()
    assert PlanSession.objects.get(pk=waiting.pk).starts_at == at(MON, 9)
    assert WaitlistEntry.objects.get(session=waiting).status == WaitlistStatus.ACTIVE
    offer.refresh_from_db()
    assert offer.status == OfferStatus.LOST


@pytest.mark.django_db
def test_leaving_the_list_withdraws_the_offer_and_its_slot_goes_to_the_next_client(client, clinic, settings):
    settings.WAITLIST_OFFERS_AT_ONCE = 1
    first = waitlisted(clinic["ana"], at(MON, 9))
    second = waitlisted(clinic["ana"], at(MON, 11))
    rival_cancels(booked_single(clinic["ana"], at(WED, 10)))
    assert offers_of(second) == []
    token = page_path(first.plan.client).split("/")[3]
    client.post(reverse("public-page-unwait", args=[token, first.pk]))
    assert [o.status for o in offers_of(first)] == [OfferStatus.WITHDRAWN]
    assert [o.starts_at for o in offers_of(second)] == [at(WED, 10)]
    response = client.get(offer_path(offers_of(first)[0]))
    assert response.status_code == 410 and "withdrawn" in response.content.decode()


@pytest.mark.django_db
def test_the_offer_email_names_the_slot_and_carries_the_link(clinic):
    from plans.outbox.render import build_email

    waiting = waitlisted(clinic["ana"], at(MON, 9))
    rival_cancels(booked_single(clinic["ana"], at(WED, 10)))
    (message,) = offer_emails(waiting)
    email = build_email(message, now=NOW, message_id="<x@clinic.example>")
    assert as_client_reads(at(WED, 10), NOW) in email.subject
    assert re.search(r"Take this slot: http://\S+/e/offer/\S+/", email.body)
    assert "Ana Silva" in email.body


@pytest.mark.django_db
def test_the_offer_page_links_to_the_clients_page_only_while_a_page_link_lives(client, clinic, clinic_admin):
    from plans.models import ClientAccess

    waiting = waitlisted(clinic["ana"], at(MON, 9))
    rival_cancels(booked_single(clinic["ana"], at(WED, 10)))
    (offer,) = offers_of(waiting)
    page = client.get(offer_path(offer)).content.decode()
    assert "Your appointments</a>" in page and "/e/page/" in page
    selfservice.client_access_revoke(client=waiting.plan.client, by=clinic_admin)
    accesses = ClientAccess.objects.count()
    page = client.get(offer_path(offer)).content.decode()
    # Staff withdrew the page links: an older offer email must not bring one back.
    assert "Take this slot" in page and "/e/page/" not in page
    assert ClientAccess.objects.count() == accesses


@pytest.mark.django_db
def test_the_waitlist_page_shows_front_desk_the_list_without_clinical_data(client, clinic, front_desk, world):
    waiting = waitlisted(clinic["ana"], at(MON, 9))
    rival_cancels(booked_single(clinic["ana"], at(WED, 10)))
    # Zoe (the world's client, with screening answers and clinical notes) is waiting too.
    zoe_session = world.plan.sessions.get()
    client.force_login(front_desk)
    text = client.get(reverse("waitlist")).content.decode()
    assert waiting.plan.client.full_name in text and "Wed 24 Feb 10:00" in text
    for clinical in ("Discussed pregnancy", "pregnant", "mm", "Fitzpatrick", "depth"):
        assert clinical not in text, clinical
    assert zoe_session  # the world's clinical record exists alongside
    entry = WaitlistEntry.objects.get(session=waiting)
    response = client.post(reverse("waitlist-remove", args=[entry.pk]))
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.WITHDRAWN
    assert offers_of(waiting)[0].status == OfferStatus.WITHDRAWN


@pytest.mark.django_db
def test_lifting_a_closure_offers_the_time_it_held(clinic):
    from plans.models import TimeOff
    from plans.services import availability

    closure = TimeOff.objects.create(starts_at=at(WED, 0), ends_at=at(WED + dt.timedelta(days=1), 0), reason="Boiler")
    waiting = waitlisted(clinic["ana"], at(MON, 9))
    assert offers_of(waiting) == []
    availability.time_off_delete(time_off=closure)
    (offer,) = offers_of(waiting)
    assert offer.starts_at == at(WED, 9) and len(offer_emails(waiting)) == 1


@pytest.mark.django_db
def test_shortening_time_off_offers_only_the_hours_it_gives_back(clinic):
    from plans.models import TimeOff
    from plans.services import availability

    leave = TimeOff.objects.create(practitioner=clinic["ana"], starts_at=at(WED, 9), ends_at=at(WED, 17), reason="x")
    waiting = waitlisted(clinic["ana"], at(MON, 9))
    leave.ends_at = at(WED, 12)
    availability.time_off_save(time_off=leave)
    (offer,) = offers_of(waiting)
    assert (offer.practitioner_id, offer.starts_at) == (clinic["ana"].id, at(WED, 12))


@pytest.mark.django_db
def test_new_working_hours_offer_their_time_up_to_the_waitlisted_appointment(clinic):
    from plans.models import WorkingHours
    from plans.services import availability

    waiting = waitlisted(clinic["ana"], at(MON, 9))
    saturday = MON - dt.timedelta(days=2)
    availability.working_hours_save(
        hours=WorkingHours(practitioner=clinic["ben"], weekday=5, start=dt.time(9), end=dt.time(13))
    )
    (offer,) = offers_of(waiting)
    assert (offer.practitioner_id, offer.starts_at) == (clinic["ben"].id, at(saturday, 9))
