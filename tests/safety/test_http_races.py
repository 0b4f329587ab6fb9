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
from tests.booking.test_http_races import DAY, ON_POSTGRES, ROUNDS, at, fire, server, wall  # noqa: F401 (fixture)
from tests.factories import RoomFactory
from tests.helpers.plans import plan_to_book
from tests.helpers.records import record_post

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL: SQLite serialises every writer, so nothing races"),
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


def test_check_decide_move_and_complete_racing_on_one_plan_never_answer_500(clinic, clinician, server):  # noqa: F811
    ana = clinic["ana"]
    cookies = staff_cookies(clinician.username)
    for n in range(ROUNDS):
        here, there = RoomFactory(), RoomFactory()
        plan = plan_to_book(first_target=dt.date.today(), count=2)
        s1, s2 = plan.sessions.order_by("sequence")
        start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5 + 2 * n)
        _booked(s1, start, ana, here)
        _booked(s2, at(DAY, 9) + dt.timedelta(days=n), ana, here)
        hold = models.ClinicalHold.objects.create(plan=plan, cause="race", reasons=["Test difference"])
        models.TreatmentPlan.objects.filter(pk=plan.pk).update(hold_opened_at=hold.opened_at)
        check = {code: "no" for code in CHECK_CODES} | {"anything_else": "yes", "anything_else_detail": "New serum"}
        statuses = fire(
            server,
            [
                (f"/sessions/{s1.pk}/check/", check),
                (f"/plans/{plan.pk}/holds/{hold.pk}/decide/", {"decision": HoldStatus.CONTINUED, "note": "ok"}),
                (
                    f"/sessions/{s2.pk}/reschedule/",
                    {"starts_at": wall(at(DAY, 11) + dt.timedelta(days=n)), "practitioner": ana.id, "room": there.id},
                ),
                (f"/sessions/{s1.pk}/complete/", record_post(s1) | {"notes": "fine"}),
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
