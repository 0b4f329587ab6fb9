"""Issue #16 item 6: the follow-up follows the last microneedling session's real date."""

import datetime as dt

import pytest

from plans import scheduling
from plans.services import booking
from tests.helpers.clock import at
from tests.helpers.plans import plan_to_book

MON = dt.date(2027, 2, 8)


def _book_all(plan, practitioner):
    proposal = booking.series_propose(plan=plan, preferences=scheduling.Preferences(practitioner_id=practitioner.id))
    assert proposal.result.ok, proposal.result.problem
    return booking.series_book(plan=plan, proposal=proposal.result.bookings)


def test_moving_the_last_session_offers_to_move_the_booked_follow_up_with_it(clinic, aesthetician):
    plan = plan_to_book(first_target=MON, count=2, follow_up=True)
    _book_all(plan, clinic["ana"])
    s1, s2, follow_up = plan.sessions.order_by("sequence")
    assert follow_up.local_date() == s2.local_date() + dt.timedelta(days=84)
    new = at(s2.local_date() + dt.timedelta(days=2), 10)

    with pytest.raises(booking.CascadeRequired) as offered:
        booking.session_reschedule(session=s2, starts_at=new, practitioner=clinic["ana"], by=aesthetician)
    (shift,) = offered.value.shifts
    assert shift.session_key == follow_up.pk and "84 days after" in shift.reason

    cascade = [booking.ShiftRequest(shift.session_key, shift.new_slot.start)]
    booking.session_reschedule(session=s2, starts_at=new, practitioner=clinic["ana"], cascade=cascade, by=aesthetician)

    follow_up.refresh_from_db()
    assert follow_up.local_date() == new.date() + dt.timedelta(days=84)
    assert follow_up.target == new.date() + dt.timedelta(days=84) and not follow_up.window_override_reason


def test_an_unbooked_follow_up_is_re_windowed_when_the_last_session_moves(clinic, aesthetician):
    plan = plan_to_book(first_target=MON, count=2, follow_up=True)
    s1, s2, follow_up = plan.sessions.order_by("sequence")
    for s in (s1, s2):
        booking.session_book(session=s, starts_at=at(s.target, 10), practitioner=clinic["ana"], by=aesthetician)
    new = at(s2.target + dt.timedelta(days=2), 10)
    booking.session_reschedule(session=s2, starts_at=new, practitioner=clinic["ana"], by=aesthetician)
    follow_up.refresh_from_db()
    assert follow_up.target == new.date() + dt.timedelta(days=84)


def test_the_pih_check_follows_session_one_booked_and_moved(screened, aesthetician, clinic):
    from plans.models import SessionKind
    from tests.helpers.safety import make_plan_for, mn

    plan = make_plan_for(screened(fitzpatrick=5), aesthetician)
    pih = plan.sessions.get(kind=SessionKind.COMBINATION, title__startswith="PIH check")
    assert pih.anchor_mn == 1
    s1 = mn(plan, 1)
    day = s1.latest
    while day.weekday() > 4:
        day -= dt.timedelta(days=1)
    booking.session_book(session=s1, starts_at=at(day, 10), practitioner=clinic["ana"], by=aesthetician)
    pih.refresh_from_db()
    assert (pih.earliest, pih.latest) == (day + dt.timedelta(days=14), day + dt.timedelta(days=28))

    earlier = s1.earliest + dt.timedelta(days=(7 - s1.earliest.weekday()) % 7)
    booking.session_reschedule(session=s1, starts_at=at(earlier, 10), practitioner=clinic["ana"], by=aesthetician)
    pih.refresh_from_db()
    assert pih.earliest == earlier + dt.timedelta(days=14)
