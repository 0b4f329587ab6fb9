"""Adverse events: an open moderate or severe one holds further microneedling (booking, moving,
completing) for every role until a clinician clears it with a note; the PIH check's result feeds
it; the hold shows on the plan, the calendar dialog and Today. And a lot recall lists every
client treated with the lot, in one query."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from plans import models, selectors, worklist
from plans.models import SessionStatus
from plans.services import booking, records
from tests.helpers.records import complete, kit, record_post
from tests.helpers.safety import make_plan_for, mn, record_check

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}
ROLES = ("front_desk", "aesthetician", "clinician", "clinic_admin")


@pytest.fixture
def reacted(booked_plan, aesthetician, frozen_clock, as_user):
    """Session 1 of a booked plan done, then a severe reaction recorded over HTTP from its record page."""
    plan = booked_plan()
    s1 = mn(plan, 1)
    frozen_clock.move_to(s1.starts_at + dt.timedelta(minutes=30))
    record_check(s1, by=aesthetician)
    complete(s1, by=aesthetician)
    response = as_user(aesthetician).post(
        reverse("adverse-event-new", args=[plan.client_id]) + f"?session={s1.pk}",
        {
            "type": models.AdverseEventType.INFECTION,
            "severity": models.Severity.SEVERE,
            "onset_on": s1.local_date().isoformat(),
            "description": "Pustules over both cheeks",
            "action_taken": "Flucloxacillin prescribed",
        },
    )
    event = models.AdverseEvent.objects.get()
    assert response.status_code == 302 and response.url == reverse("adverse-event", args=[event.pk])
    assert event.session == s1 and event.plan == plan and event.recorded_by == aesthetician
    plan.refresh_from_db()
    return plan, event


def _attempts(browser, plan):
    """Move session 2, book session 3 again after a cancellation, complete session 2: each answer's code."""
    s2, s3 = mn(plan, 2), mn(plan, 3)
    later = s2.starts_at + dt.timedelta(days=1)
    move = browser.post(
        reverse("session-reschedule", args=[s2.pk]),
        {
            "starts_at": f"{timezone.localtime(later):%Y-%m-%dT%H:%M}",
            "practitioner": s2.practitioner_id,
            "room": s2.room_id,
        },
        **JSON,
    )
    if s3.status == SessionStatus.BOOKED:
        booking.session_cancel(session=s3, by_client=True, reason="Client asked")  # cancelling stays open
        s3.refresh_from_db()
    book = browser.post(
        reverse("session-book", args=[s3.pk]),
        {"starts_at": f"{timezone.localtime(s3.starts_at):%Y-%m-%dT%H:%M}", "practitioner": s3.practitioner_id},
        **JSON,
    )
    complete_page = browser.post(reverse("session-complete", args=[s2.pk]), record_post(s2), **JSON)
    return move, book, complete_page


@pytest.mark.parametrize("role", ROLES)
def test_an_open_severe_event_refuses_booking_moving_and_completing_for_every_role(
    reacted, as_user, role, request, frozen_clock
):
    plan, _event = reacted
    frozen_clock.move_to(mn(plan, 2).starts_at + dt.timedelta(minutes=30))  # session 2 under way
    record_check(mn(plan, 2))
    move, book, done = _attempts(as_user(request.getfixturevalue(role)), plan)
    for response in (move, book):
        assert response.status_code == 400 and response.json()["code"] == "adverse_event_hold", response.content
    if role == "front_desk":
        assert done.status_code == 403 and b"Pustules" not in done.content  # never clinical for reception
    else:
        assert done.status_code == 400 and done.json()["code"] == "adverse_event_hold"
    assert (
        mn(plan, 2).status == SessionStatus.BOOKED
        and not models.TreatmentRecord.objects.filter(session=mn(plan, 2)).exists()
    )


def test_only_a_clinician_clears_the_event_and_then_booking_and_completing_work_again(
    reacted, as_user, aesthetician, front_desk, clinician, frozen_clock
):
    plan, event = reacted
    url = reverse("adverse-event-clear", args=[event.pk])
    note = {"note": "Infection resolved on antibiotics; continue at the planned depth"}
    response = as_user(aesthetician).post(url, note, **JSON)
    assert response.status_code == 403 and response.json()["code"] == "needs_clinician"
    assert as_user(front_desk).post(url, note, **JSON).status_code == 403
    response = as_user(clinician).post(url, {"note": "  "}, **JSON)
    assert response.status_code == 400
    plan.refresh_from_db()
    assert plan.adverse_event_hold

    response = as_user(clinician).post(url, note, **JSON)
    assert response.status_code == 200, response.json()
    event.refresh_from_db()
    plan.refresh_from_db()
    assert event.cleared_by == clinician and event.clearance_note.startswith("Infection resolved")
    assert not plan.adverse_event_hold
    response = as_user(clinician).post(url, note, **JSON)  # a second clearance: refused, not a 500
    assert response.status_code == 400

    s2, s3 = mn(plan, 2), mn(plan, 3)
    assert s2.can("reschedule") and s2.refusal_code("reschedule") == ""
    browser = as_user(aesthetician)
    booking.session_cancel(session=s3, by_client=True, reason="Client asked")
    s3.refresh_from_db()
    book = browser.post(
        reverse("session-book", args=[s3.pk]),
        {"starts_at": f"{timezone.localtime(s3.starts_at):%Y-%m-%dT%H:%M}", "practitioner": s3.practitioner_id},
        **JSON,
    )
    assert book.status_code == 200, book.json()
    frozen_clock.move_to(s2.starts_at + dt.timedelta(minutes=30))
    record_check(s2)
    browser = as_user(aesthetician)  # a month later the old login has expired
    done = browser.post(reverse("session-complete", args=[s2.pk]), record_post(s2), **JSON)
    assert done.status_code == 200, done.json()
    assert mn(plan, 2).status == SessionStatus.COMPLETED


def test_a_mild_event_is_recorded_without_holding_the_plan(booked_plan, aesthetician):
    plan = booked_plan()
    records.adverse_event_record(
        client=plan.client, type="prolonged_erythema", severity="mild", onset_on=dt.date(2027, 2, 1),
        description="Redness for 4 days", by=aesthetician,
    )  # fmt: skip
    plan.refresh_from_db()
    assert not plan.adverse_event_hold and mn(plan, 1).can("reschedule")


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [("onset_on", "2027-03-01", "future"), ("follow_up_on", "2027-01-01", "before the onset"), ("type", "", "Type")],
)
def test_a_bad_adverse_event_form_is_refused_and_writes_nothing(booked_plan, as_user, aesthetician, field, value, why):
    plan = booked_plan()
    data = {"type": "pih", "severity": "severe", "onset_on": "2027-01-25", "description": "Dark patches"}
    response = as_user(aesthetician).post(reverse("adverse-event-new", args=[plan.client_id]), data | {field: value})
    assert response.status_code == 400 and why in response.content.decode()
    plan.refresh_from_db()
    assert not models.AdverseEvent.objects.exists() and not plan.adverse_event_hold


def test_a_plan_made_while_an_event_holds_the_client_starts_held(reacted, aesthetician):
    plan, _event = reacted
    models.TreatmentPlan.objects.filter(pk=plan.pk).update(status=models.PlanStatus.CANCELLED)
    new = make_plan_for(plan.client, aesthetician, start=dt.date(2027, 4, 5))
    assert new.adverse_event_hold and new.clinical_refusal()[0] == "adverse_event_hold"


def test_the_pih_check_records_a_result_and_moderate_pih_holds_further_sessions(
    booked_plan, aesthetician, client, frozen_clock
):
    plan = booked_plan(fitzpatrick=5)  # P3: a PIH check 2-4 weeks after session 1
    check = plan.sessions.get(kind=models.SessionKind.COMBINATION, title__startswith="PIH check")
    assert check.is_assessment and check.status == SessionStatus.BOOKED
    s1 = mn(plan, 1)
    frozen_clock.move_to(s1.starts_at + dt.timedelta(minutes=30))
    record_check(s1, by=aesthetician)
    complete(s1, by=aesthetician)
    frozen_clock.move_to(check.starts_at + dt.timedelta(minutes=5))
    with pytest.raises(booking.BookingError, match="none, mild, moderate or severe"):
        booking.session_complete(session=check, by=aesthetician)
    client.force_login(aesthetician)
    panel = client.get(reverse("session-panel", args=[check.pk])).content.decode()
    assert "PIH seen at this check" in panel
    response = client.post(reverse("session-complete", args=[check.pk]), {"pih_result": "moderate"}, **JSON)
    assert response.status_code == 200, response.json()
    event = models.AdverseEvent.objects.get()
    assert (event.type, event.severity, event.session, event.plan) == ("pih", "moderate", check, plan)
    plan.refresh_from_db()
    assert plan.adverse_event_hold and mn(plan, 2).refusal_code("reschedule") == "adverse_event_hold"


def test_a_pih_check_that_finds_none_records_no_event(booked_plan, aesthetician, frozen_clock):
    plan = booked_plan(fitzpatrick=5)
    check = plan.sessions.get(kind=models.SessionKind.COMBINATION, title__startswith="PIH check")
    frozen_clock.move_to(check.starts_at + dt.timedelta(minutes=5))
    booking.session_complete(session=check, pih_result="none", by=aesthetician)
    plan.refresh_from_db()
    assert not models.AdverseEvent.objects.exists() and not plan.adverse_event_hold


def test_an_event_carries_its_sessions_plan_and_one_from_the_client_page_has_none(booked_plan, aesthetician):
    plan = booked_plan()
    fields = {
        "client": plan.client,
        "type": "pih",
        "severity": "mild",
        "onset_on": dt.date(2027, 1, 20),
        "by": aesthetician,
    }
    from_session = records.adverse_event_record(session=mn(plan, 1), description="After session 1", **fields)
    from_client_page = records.adverse_event_record(description="Noticed at home", **fields)
    assert models.AdverseEvent.objects.get(pk=from_session.pk).plan_id == plan.pk
    assert models.AdverseEvent.objects.get(pk=from_client_page.pk).plan_id is None


def test_the_database_refuses_an_event_from_a_session_without_its_plan(booked_plan, aesthetician):
    plan = booked_plan()
    session = mn(plan, 1)
    with pytest.raises(IntegrityError, match="adverse_event_session_has_its_plan"), transaction.atomic():
        models.AdverseEvent.objects.create(
            client=plan.client, session=session, type="pih", severity="mild", onset_on=dt.date(2027, 1, 20),
            description="Written around the service", recorded_by=aesthetician, recorded_at=timezone.now(),
        )  # fmt: skip


def test_a_deleted_plan_leaves_its_events_with_neither_session_nor_plan(reacted):
    """Both foreign keys are set to null, the session's first, so the check constraint never sees
    an event that keeps a session but lost its plan."""
    plan, event = reacted
    plan.delete()
    event.refresh_from_db()
    assert (event.session_id, event.plan_id) == (None, None)


def test_the_hold_shows_on_the_plan_the_calendar_dialog_and_today_but_never_its_detail_to_front_desk(
    reacted, as_user, aesthetician, front_desk
):
    plan, event = reacted
    s2 = mn(plan, 2)
    for user, clinical in ((aesthetician, True), (front_desk, False)):
        browser = as_user(user)
        plan_page = browser.get(reverse("plan-detail", args=[plan.pk])).content.decode()
        dialog = browser.get(reverse("session-panel", args=[s2.pk]) + "?fragment=1").content.decode()
        assert 'data-code="adverse_event_hold"' in plan_page and 'data-code="adverse_event_hold"' in dialog
        assert ("Infection" in plan_page) is clinical
        assert "Pustules" not in plan_page + dialog  # the description stays on the event's own page
    day = s2.local_date()
    badges = lambda clinical: [  # noqa: E731
        o.code
        for d in worklist.today_appointments(day=day, clinical=clinical)
        for a in d.appointments
        for o in a.outstanding
    ]
    assert "adverse" in badges(True) and "adverse" not in badges(False)
    groups = lambda clinical: {g.code: g for g in worklist.worklist(clinical=clinical)}  # noqa: E731
    assert [i.url for i in groups(True)["adverse"].items] == [reverse("adverse-event", args=[event.pk])]
    assert "adverse" not in groups(False)
    home = as_user(front_desk).get(reverse("home")).content.decode()
    assert "Adverse event" not in home and "Infection" not in home


def test_an_unresolved_event_whose_follow_up_is_due_is_on_the_worklist_until_resolved(
    booked_plan, aesthetician, as_user
):
    plan = booked_plan()
    event = records.adverse_event_record(
        client=plan.client, type="pih", severity="mild", onset_on=dt.date(2027, 1, 20),
        follow_up_on=dt.date(2027, 2, 1), description="Light patches", by=aesthetician,
    )  # fmt: skip
    assert [i.title for i in next(g for g in worklist.worklist(clinical=True) if g.code == "adverse").items]
    response = as_user(aesthetician).post(
        reverse("adverse-event-resolve", args=[event.pk]), {"resolved_on": "2027-02-01"}
    )
    assert response.status_code == 302
    assert "adverse" not in {g.code for g in worklist.worklist(clinical=True)}


# --- Lot recall ----------------------------------------------------------------------------------------


def test_an_admin_recalls_a_lot_and_sees_every_client_treated_with_it_in_one_query(
    booked_plan, aesthetician, clinic_admin, client, django_assert_num_queries, frozen_clock
):
    treated = []
    for fitz in (1, 2, 3):
        plan = booked_plan(fitzpatrick=fitz)
        s1 = mn(plan, 1)
        frozen_clock.move_to(s1.starts_at + dt.timedelta(minutes=30))
        record_check(s1, by=aesthetician)
        complete(s1, by=aesthetician)
        treated.append(plan.client)
    _device, lot = kit()

    client.force_login(clinic_admin)
    response = client.post(
        reverse("admin:plans_lot_changelist"),
        {"action": "recall", "_selected_action": [lot.pk], "apply": "1", "reason": "Maker's notice 12/2027"},
    )
    assert response.status_code == 302
    lot.refresh_from_db()
    assert lot.is_recalled and lot.recalled_by == clinic_admin and lot.recall_reason == "Maker's notice 12/2027"

    with django_assert_num_queries(1):
        rows = selectors.lot_treated_clients(lot)
    assert {r.client_id for r in rows} == {c.pk for c in treated}
    page = client.get(reverse("lot-treated", args=[lot.pk])).content.decode()
    assert all(c.full_name in page and c.email in page for c in treated) and 'id="lot-recalled"' in page
    change_page = client.get(reverse("admin:plans_lot_change", args=[lot.pk])).content.decode()
    assert reverse("lot-treated", args=[lot.pk]) in change_page


def test_a_recall_without_a_reason_is_refused(clinic_admin, client):
    _device, lot = kit()
    client.force_login(clinic_admin)
    response = client.post(
        reverse("admin:plans_lot_changelist"), {"action": "recall", "_selected_action": [lot.pk], "apply": "1"}
    )
    assert response.status_code == 200 and b"Reason for the recall" in response.content
    lot.refresh_from_db()
    assert not lot.is_recalled
    with pytest.raises(booking.BookingError, match="reason"):
        records.lot_recall(lot=lot, reason=" ", by=clinic_admin)
