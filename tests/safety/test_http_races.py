"""The safety endpoints raced through the front door on PostgreSQL (gunicorn, a barrier):
a pre-session check, a hold decision, a move and a completion of one plan at once never
answer 500 and leave the plan consistent: a session is completed only with a check before
it and no hold open."""

import datetime as dt

import pytest

from bench.server import staff_cookies
from plans import models
from plans.models import HoldStatus
from plans.recheck import CHECK_CODES
from tests.factories import RoomFactory
from tests.helpers.clock import at
from tests.helpers.http_races import DAY, NEEDS_POSTGRES, ON_POSTGRES, ROUNDS, TODAY, fire, minutes_from_today, wall
from tests.helpers.plans import plan_to_book
from tests.helpers.safety import make_plan_for, mn

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason=NEEDS_POSTGRES),
    pytest.mark.django_db(transaction=True),
]


def _booked(session, start, practitioner, room):
    # The booking service refuses past times; a session already under way is placed directly.
    models.PlanSession.objects.filter(pk=session.pk).update(
        status="booked",
        starts_at=start,
        ends_at=start + dt.timedelta(minutes=1),
        blocked_until=start + dt.timedelta(minutes=1),
        practitioner=practitioner,
        room=room,
    )


def test_check_decide_move_and_complete_racing_on_one_plan_never_answer_500(clinic, clinician, race_server):
    ana = clinic["ana"]
    cookies = staff_cookies(clinician.username)
    for n in range(ROUNDS):
        here, there = RoomFactory(), RoomFactory()
        plan = plan_to_book(first_target=TODAY, count=2)
        s1, s2 = plan.sessions.order_by("sequence")
        start = minutes_from_today(n)
        _booked(s1, start, ana, here)
        _booked(s2, at(DAY, 9) + dt.timedelta(days=n), ana, here)
        hold = models.ClinicalHold.objects.create(plan=plan, cause="race", reasons=["Test difference"])
        models.TreatmentPlan.objects.filter(pk=plan.pk).update(hold_opened_at=hold.opened_at)
        check = {code: "no" for code in CHECK_CODES} | {"anything_else": "yes", "anything_else_detail": "New serum"}
        statuses = fire(
            race_server,
            [
                (f"/sessions/{s1.pk}/check/", check),
                (f"/plans/{plan.pk}/holds/{hold.pk}/decide/", {"decision": HoldStatus.CONTINUED, "note": "ok"}),
                (
                    f"/sessions/{s2.pk}/reschedule/",
                    {"starts_at": wall(at(DAY, 11) + dt.timedelta(days=n)), "practitioner": ana.id, "room": there.id},
                ),
                (f"/sessions/{s1.pk}/complete/", {"depth_used_mm": "0.5", "notes": "fine"}),
                (f"/sessions/{s1.pk}/check/", check),
            ],
            cookies,
        )
        assert all(s < 500 for s in statuses), statuses
        s1.refresh_from_db()
        plan.refresh_from_db()
        assert models.PreSessionCheck.objects.filter(session=s1).count() <= 1
        assert plan.holds.filter(status=HoldStatus.OPEN).count() <= 1
        assert plan.is_on_hold == plan.holds.filter(status=HoldStatus.OPEN).exists()
        if s1.status == "completed":
            check_row = models.PreSessionCheck.objects.get(session=s1)
            assert check_row.recorded_at <= s1.completed_at
            decided = plan.holds.get(pk=hold.pk)
            assert decided.status == HoldStatus.CONTINUED and decided.decided_at <= s1.completed_at


def test_recomputing_a_booked_plan_racing_a_move_and_a_booking_never_answers_500(
    clinic, clinician, screened, aesthetician, race_server
):
    """The recompute rewrites the plan's unbooked sessions while staff move the booked one and
    book another: all lock the plan first, so each sees the other's result, and nothing is a 500."""
    ana = clinic["ana"]
    cookies = staff_cookies(clinician.username)
    decided = 0
    for n in range(ROUNDS):
        plan = make_plan_for(screened(), aesthetician)
        s1, s2 = mn(plan, 1), mn(plan, 2)
        _booked(s1, at(DAY, 9) + dt.timedelta(days=n), ana, clinic["room_a"])
        hold = models.ClinicalHold.objects.create(plan=plan, cause="race", reasons=["Test difference"])
        models.TreatmentPlan.objects.filter(pk=plan.pk).update(hold_opened_at=hold.opened_at)
        statuses = fire(
            race_server,
            [
                (f"/plans/{plan.pk}/holds/{hold.pk}/decide/", {"decision": HoldStatus.RECOMPUTED, "note": "new"}),
                (
                    f"/sessions/{s1.pk}/reschedule/",
                    {
                        "starts_at": wall(at(DAY, 11) + dt.timedelta(days=n)),
                        "practitioner": ana.id,
                        "room": "",
                        "override_reason": "race",
                    },
                ),
                (
                    f"/sessions/{s2.pk}/book/",
                    {"starts_at": wall(at(s2.target, 10)), "practitioner": ana.id, "room": "", "override_reason": "x"},
                ),
            ],
            cookies,
        )
        assert all(s < 500 for s in statuses), statuses
        plan.refresh_from_db()
        assert plan.is_on_hold == plan.holds.filter(status=HoldStatus.OPEN).exists()
        decided += not plan.is_on_hold
        sequences = list(plan.sessions.values_list("sequence", flat=True))
        assert len(sequences) == len(set(sequences))
        s1.refresh_from_db()
        assert s1.status == "booked", "the recompute never drops a booked session"
        assert plan.sessions.filter(kind="microneedling").count() == plan.params.session_count
    assert decided == ROUNDS, "every recompute went through"
