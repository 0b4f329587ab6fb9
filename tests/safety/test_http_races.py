"""The safety endpoints raced through the front door on PostgreSQL (gunicorn, a barrier):
a pre-session check, a hold decision, a move and a completion of one plan at once never
answer 500 and leave the plan consistent: a session is completed only with a check before
it and no hold open."""

import datetime as dt

import pytest
from django.conf import settings

from bench.server import staff_cookies
from plans import models
from plans.models import HoldStatus
from plans.recheck import CHECK_CODES
from plans.services import records, safety
from tests.factories import RoomFactory
from tests.helpers.clock import at
from tests.helpers.http_races import (
    DAY,
    NEEDS_POSTGRES,
    ON_POSTGRES,
    ROUNDS,
    TODAY,
    fire,
    minutes_from_today,
    real_now,
    wall,
)
from tests.helpers.plans import plan_to_book
from tests.helpers.records import record_post
from tests.helpers.safety import check_answers, make_plan_for, mn

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


def _current_checks(session) -> int:
    """How many of the session's checks count at its time: a stale one may be followed by a
    new check, but two submits never leave two that count."""
    now = real_now()
    return sum(c.covers(session, now=now) for c in models.PreSessionCheck.objects.filter(session=session))


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
                (f"/sessions/{s1.pk}/complete/", record_post(s1) | {"notes": "fine"}),
                (f"/sessions/{s1.pk}/check/", check),
            ],
            cookies,
        )
        assert all(s < 500 for s in statuses), statuses
        s1.refresh_from_db()
        plan.refresh_from_db()
        assert _current_checks(s1) <= 1
        assert plan.holds.filter(status=HoldStatus.OPEN).count() <= 1
        assert plan.is_on_hold == plan.holds.filter(status=HoldStatus.OPEN).exists()
        if s1.status == "completed":
            check_row = s1.newest_pre_session_check()
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


def test_two_sign_offs_of_one_session_at_once_make_one_record_and_never_answer_500(clinic, clinician, race_server):
    ana = clinic["ana"]
    cookies = staff_cookies(clinician.username)
    for n in range(ROUNDS):
        plan = plan_to_book(first_target=TODAY, count=2)
        s1, _s2 = plan.sessions.order_by("sequence")
        _booked(s1, minutes_from_today(n), ana, RoomFactory())
        safety.pre_session_check_record(session=s1, answers=check_answers(), by=None)
        form = record_post(s1) | {"notes": "fine"}
        statuses = fire(
            race_server,
            [
                (f"/sessions/{s1.pk}/complete/", form),
                (f"/sessions/{s1.pk}/complete/", form | {"notes": "the other tablet"}),
                (f"/sessions/{s1.pk}/record/addendum/", {"text": "racing the sign-off"}),
            ],
            cookies,
        )
        assert all(s < 500 for s in statuses), statuses
        assert sorted(statuses[:2]) == [200, 400], statuses  # one sign-off won, the other was refused
        s1.refresh_from_db()
        record = models.TreatmentRecord.objects.get(session=s1)
        assert s1.status == "completed" and s1.notes == record.notes
        assert s1.depth_used_mm == max(z.depth_mm for z in record.zones.all())
        # The addendum lands only on a signed record: after the sign-off, or not at all.
        assert all(a.at >= record.signed_at for a in record.addenda.all())


def test_clearing_an_adverse_event_racing_bookings_and_a_completion_never_answers_500(clinic, clinician, race_server):
    ana = clinic["ana"]
    cookies = staff_cookies(clinician.username)
    for n in range(ROUNDS):
        plan = plan_to_book(first_target=TODAY, count=3)
        s1, s2, s3 = plan.sessions.order_by("sequence")
        here, there = RoomFactory(), RoomFactory()
        _booked(s1, minutes_from_today(n), ana, here)
        _booked(s2, at(DAY, 9) + dt.timedelta(days=n), ana, here)
        safety.pre_session_check_record(session=s1, answers=check_answers(), by=None)
        today = TODAY
        event = records.adverse_event_record(
            client=plan.client, type="infection", severity="severe", onset_on=today,
            description="Pustules", by=clinician,
        )  # fmt: skip
        another = {"type": "pih", "severity": "moderate", "onset_on": today.isoformat(), "description": "Patches"}
        note = {"note": "Resolved on antibiotics"}
        statuses = fire(
            race_server,
            [
                (f"/adverse-events/{event.pk}/clear/", note),
                (f"/adverse-events/{event.pk}/clear/", note),
                (
                    f"/sessions/{s2.pk}/reschedule/",
                    {"starts_at": wall(at(DAY, 11) + dt.timedelta(days=n)), "practitioner": ana.id, "room": there.id},
                ),
                (f"/sessions/{s3.pk}/book/", {"starts_at": wall(at(DAY + dt.timedelta(days=28 + n), 10)),
                                              "practitioner": ana.id, "override_reason": "race"}),
                (f"/sessions/{s1.pk}/complete/", record_post(s1)),
                (f"/adverse-events/{event.pk}/resolve/", {"resolved_on": today.isoformat()}),
                (f"/clients/{plan.client_id}/adverse-events/new/", another),
            ],
            cookies,
        )  # fmt: skip
        assert all(s < 500 for s in statuses), statuses
        assert sorted(statuses[:2]) == [200, 400], statuses  # cleared once; the second finds it cleared
        event.refresh_from_db()
        plan.refresh_from_db()
        assert event.cleared_by == clinician and event.resolved_on == today
        # The second event, recorded while the first was being cleared, holds the plan on its own.
        assert models.AdverseEvent.objects.filter(client=plan.client).count() == 2
        s1.refresh_from_db()
        # Completed only with its record. (Whether it queued behind the clearance cannot be told from the
        # times: each write reads the clock before it waits for the plan's lock.)
        assert (s1.status == "completed") == models.TreatmentRecord.objects.filter(session=s1).exists()
        holding = models.AdverseEvent.objects.filter(client=plan.client).holding().exists()
        assert plan.adverse_event_hold == holding


def test_two_checks_of_a_session_whose_check_went_stale_record_one_new_check(clinic, clinician, race_server):
    """The stale check lets a new one in; the session's row lock lets exactly one of two
    submits (and a start racing them) through, and the old check stays as it was."""
    ana = clinic["ana"]
    cookies = staff_cookies(clinician.username)
    check = {code: "no" for code in CHECK_CODES}
    for n in range(ROUNDS):
        plan = plan_to_book(first_target=TODAY, count=2)
        s1, _s2 = plan.sessions.order_by("sequence")
        _booked(s1, minutes_from_today(n), ana, RoomFactory())
        stale = safety.pre_session_check_record(session=s1, answers=check_answers(), by=None)
        old = real_now() - dt.timedelta(days=settings.PRE_SESSION_CHECK_VALID_DAYS + 1)
        models.PreSessionCheck.objects.filter(pk=stale.pk).update(recorded_at=old)
        s1.refresh_from_db()
        statuses = fire(
            race_server,
            [
                (f"/sessions/{s1.pk}/check/", check),
                (f"/sessions/{s1.pk}/check/", check | {"anything_else": "yes", "anything_else_detail": "New serum"}),
                (f"/sessions/{s1.pk}/start/", {}),
            ],
            cookies,
        )
        assert all(s < 500 for s in statuses), statuses
        checks = list(models.PreSessionCheck.objects.filter(session=s1).order_by("sequence"))
        assert [c.sequence for c in checks] == [1, 2], statuses
        assert (checks[0].pk, checks[0].recorded_at, checks[0].via) == (stale.pk, old, "client")
        assert _current_checks(s1) == 1
        s1.refresh_from_db()
        if s1.started_at:
            assert checks[1].recorded_at <= s1.started_at
