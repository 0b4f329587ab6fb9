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


def _weekday_on_or_after(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=max(0, 7 - day.weekday()) if day.weekday() > 4 else 0)


def test_a_booked_pih_check_is_offered_in_the_cascade_when_session_one_moves_closer_to_it(
    screened, aesthetician, clinic
):
    """Session 1 moved a week later: the PIH check booked 2-4 weeks after its old date would be
    under its 14-day minimum; the move offers it with the other shifts, never leaves it there."""
    from plans.models import SessionKind
    from tests.helpers.safety import book_all, make_plan_for, mn

    plan = make_plan_for(screened(fitzpatrick=5), aesthetician)
    book_all(plan, clinic["ana"])
    s1 = mn(plan, 1)
    pih = plan.sessions.get(kind=SessionKind.COMBINATION, title__startswith="PIH check")
    assert pih.status == "booked" and pih.anchor_mn == 1
    gap = (pih.local_date() - s1.local_date()).days
    assert 14 <= gap <= 28
    new_day = _weekday_on_or_after(pih.local_date() - dt.timedelta(days=7))
    assert (pih.local_date() - new_day).days < 14
    new = at(new_day, 10)

    with pytest.raises(booking.CascadeRequired) as offered:
        booking.session_reschedule(
            session=s1, starts_at=new, practitioner=clinic["ana"], override_reason="client away", by=aesthetician
        )
    shifts = {s.session_key: s for s in offered.value.shifts}
    assert pih.pk in shifts and "14 to 28 days after microneedling session 1" in shifts[pih.pk].reason
    assert shifts[pih.pk].new_slot is not None and not shifts[pih.pk].outside_window

    cascade = [booking.ShiftRequest(s.session_key, s.new_slot.start) for s in offered.value.shifts]
    booking.session_reschedule(
        session=s1,
        starts_at=new,
        practitioner=clinic["ana"],
        cascade=cascade,
        override_reason="client away",
        by=aesthetician,
    )

    pih.refresh_from_db()
    assert 14 <= (pih.local_date() - new_day).days <= 28
    assert (pih.earliest, pih.latest) == (new_day + dt.timedelta(days=14), new_day + dt.timedelta(days=28))
    assert not pih.window_override_reason


def test_a_pih_check_still_inside_its_window_after_the_move_is_not_offered(screened, aesthetician, clinic):
    from plans.models import SessionKind
    from tests.helpers.safety import book_all, make_plan_for, mn

    plan = make_plan_for(screened(fitzpatrick=5), aesthetician)
    book_all(plan, clinic["ana"])
    s1 = mn(plan, 1)
    pih = plan.sessions.get(kind=SessionKind.COMBINATION, title__startswith="PIH check")
    booked_on = pih.local_date()
    # A weekday a few days from session 1's date that keeps the PIH check 14-28 days after it.
    candidates = [s1.local_date() + dt.timedelta(days=d) for d in (-3, -2, -1, 1, 2, 3)]
    new_day = next(d for d in candidates if d.weekday() < 5 and 14 <= (booked_on - d).days <= 28)
    try:
        booking.session_reschedule(
            session=s1, starts_at=at(new_day, 10), practitioner=clinic["ana"], override_reason="x", by=aesthetician
        )
    except booking.CascadeRequired as offered:
        assert pih.pk not in {s.session_key for s in offered.value.shifts}
    else:
        pih.refresh_from_db()
        assert pih.local_date() == booked_on
