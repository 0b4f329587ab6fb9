"""Issue #16 over HTTP, as each role: aesthetician, front desk, clinician."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from plans.models import HoldStatus, PlanStatus, SessionStatus, TreatmentPlan
from plans.services import clients, safety
from tests.helpers.records import record_post
from tests.helpers.safety import START, make_plan_for, mn, no_to_all, record_check

JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture
def held(booked_plan, aesthetician):
    """A booked plan whose client then reported a pregnancy."""
    plan = booked_plan()
    clients.client_update(client=plan.client, screening=no_to_all(pregnant_or_nursing=None), screened_by=aesthetician)
    plan.refresh_from_db()
    assert plan.is_on_hold
    return plan


@pytest.mark.parametrize("role", ["aesthetician", "front_desk", "clinician"])
def test_moving_a_session_of_a_held_plan_is_refused_with_the_clinical_hold_code(held, as_user, role, request):
    s1 = mn(held, 1)
    browser = as_user(request.getfixturevalue(role))
    new = s1.starts_at + dt.timedelta(days=1)
    response = browser.post(
        reverse("session-reschedule", args=[s1.pk]),
        {"starts_at": f"{new:%Y-%m-%dT%H:%M}", "practitioner": s1.practitioner_id, "room": s1.room_id},
        **JSON,
    )
    assert response.status_code == 400 and response.json()["code"] == "clinical_hold"


def test_the_plan_page_shows_the_hold_reasons_to_clinical_staff_and_only_the_fact_to_front_desk(
    held, as_user, aesthetician, front_desk, clinician
):
    url = reverse("plan-detail", args=[held.pk])
    page = as_user(aesthetician).get(url).content.decode()
    assert 'id="clinical-hold"' in page and "Pregnancy" in page and 'id="hold-decision"' not in page
    assert 'id="booking-refused"' in page and "Book sessions</a>" not in page

    page = as_user(front_desk).get(url).content.decode()
    assert 'id="clinical-hold"' in page and "Pregnancy" not in page and "Hard stop" not in page

    page = as_user(clinician).get(url).content.decode()
    assert 'id="hold-decision"' in page


def test_the_session_panel_shows_why_and_front_desk_never_sees_the_check_answers(
    booked_plan, as_user, aesthetician, front_desk, frozen_clock
):
    plan = booked_plan()
    s1 = mn(plan, 1)
    frozen_clock.move_to(s1.starts_at - dt.timedelta(hours=2))
    record_check(s1, by=aesthetician, anything_else="Started a course of Accutane-like pills")
    url = reverse("session-panel", args=[s1.pk])

    page = as_user(aesthetician).get(url).content.decode()
    assert 'id="session-safety"' in page and "Accutane-like pills" in page and "anything_else" in page

    page = as_user(front_desk).get(url).content.decode()
    assert 'id="session-safety"' in page and "a clinician must review" in page
    assert "Accutane" not in page and "anything_else" not in page and "Pre-session check" not in page
    assert as_user(front_desk).get(reverse("session-check", args=[s1.pk])).status_code == 403
    plan_page = as_user(front_desk).get(reverse("plan-detail", args=[plan.pk])).content.decode()
    assert "Accutane" not in plan_page and "anything_else" not in plan_page


def test_staff_record_the_check_at_check_in_from_the_session_panel(booked_plan, as_user, aesthetician):
    plan = booked_plan()
    s1 = mn(plan, 1)
    browser = as_user(aesthetician)
    panel = browser.get(reverse("session-panel", args=[s1.pk])).content.decode()
    assert reverse("session-check", args=[s1.pk]) in panel
    form = {code: "no" for code in safety.recheck.CHECK_CODES}
    response = browser.post(reverse("session-check", args=[s1.pk]), {**form, "recent_tan": "yes"}, follow=True)
    assert "Some answers need a detail" in response.content.decode()
    browser.post(reverse("session-check", args=[s1.pk]), form)
    s1.refresh_from_db()
    assert s1.newest_pre_session_check().recorded_by == aesthetician and not s1.newest_pre_session_check().yes_codes


def _deferred_and_reviewed(screened, aesthetician, clinician):
    """Isotretinoin defers the start and raises a review item; the item is signed off."""
    client = screened(yes={"isotretinoin_past": dt.date(2026, 10, 2)})
    plan = make_plan_for(client, aesthetician)
    for item in plan.review_items:
        safety.review_signoff(plan=plan, question_code=item["question_code"], note="Discussed", by=clinician)
    return plan


def test_front_desk_overriding_a_deferral_is_told_a_clinician_must_decide(
    screened, aesthetician, front_desk, clinician, clinic, as_user
):
    plan = _deferred_and_reviewed(screened, aesthetician, clinician)
    s1 = mn(plan, 1)
    response = as_user(front_desk).post(
        reverse("session-book", args=[s1.pk]),
        {"starts_at": "2027-03-01T10:00", "practitioner": clinic["ana"].pk, "override_reason": "client prefers"},
        **JSON,
    )
    assert response.status_code == 400 and response.json()["code"] == "needs_clinician"
    assert "A clinician must decide" in response.json()["error"]
    s1.refresh_from_db()
    assert s1.status == SessionStatus.PROPOSED


def test_a_clinician_overrides_the_deferral_over_http(screened, aesthetician, clinician, clinic, as_user):
    plan = _deferred_and_reviewed(screened, aesthetician, clinician)
    s1 = mn(plan, 1)
    response = as_user(clinician).post(
        reverse("session-book", args=[s1.pk]),
        {"starts_at": "2027-03-01T10:00", "practitioner": clinic["ana"].pk, "override_reason": "Derm letter"},
        **JSON,
    )
    assert response.status_code == 200, response.json()
    assert s1.clinical_overrides.get().by == clinician


def test_depth_above_plan_over_http_needs_a_clinician(booked_plan, as_user, aesthetician, clinician, frozen_clock):
    plan = booked_plan()
    s1 = mn(plan, 1)
    frozen_clock.move_to(s1.starts_at + dt.timedelta(minutes=30))
    record_check(s1, by=aesthetician)
    url = reverse("session-complete", args=[s1.pk])
    data = record_post(s1, "1.5") | {"above_plan_reason": "thicker skin"}
    response = as_user(aesthetician).post(url, data, **JSON)
    assert response.status_code == 400 and response.json()["code"] == "needs_clinician"
    response = as_user(clinician).post(url, data, **JSON)
    assert response.status_code == 200


def test_only_a_clinician_stops_a_held_plan_over_http(held, as_user, aesthetician, front_desk, clinician):
    hold = safety.plan_open_hold(held)
    url = reverse("plan-hold-decide", args=[held.pk, hold.pk])
    data = {"decision": HoldStatus.STOPPED, "note": "Pregnant"}
    assert as_user(aesthetician).post(url, data).status_code == 403
    assert as_user(front_desk).post(url, data).status_code == 403
    response = as_user(clinician).post(url, data)
    assert response.status_code == 302
    held.refresh_from_db()
    assert held.status == PlanStatus.CANCELLED


def test_review_items_are_signed_off_per_item_over_http(screened, aesthetician, clinician, as_user):
    client = screened(yes={"anticoagulants": None})
    plan = make_plan_for(client, aesthetician)
    url = reverse("plan-review-signoff", args=[plan.pk])
    data = {"question_code": "anticoagulants", "note": "Approved by the GP, Dr Rao"}
    assert as_user(aesthetician).post(url, data).status_code == 403
    page = as_user(aesthetician).get(reverse("plan-detail", args=[plan.pk])).content.decode()
    assert "Waiting for a clinician" in page and 'id="booking-refused"' in page
    as_user(clinician).post(url, data)
    plan.refresh_from_db()
    assert not plan.review_pending
    page = as_user(aesthetician).get(reverse("plan-detail", args=[plan.pk])).content.decode()
    assert "Approved by the GP, Dr Rao" in page and "Book sessions</a>" in page


def test_plan_new_refuses_a_client_never_screened(shipped, aesthetician, as_user):
    person = clients.client_create(
        first_name="Nia", last_name="Long", date_of_birth=dt.date(1990, 1, 1), fitzpatrick=2, oiliness="normal",
        pore_concern="mild",
    )  # fmt: skip
    browser = as_user(aesthetician)
    url = reverse("plan-new", args=[person.pk])
    assert 'id="no-screening"' in browser.get(url).content.decode()
    response = browser.post(url, {"start": START.isoformat(), "token": "t1"}, follow=True)
    assert not TreatmentPlan.objects.exists() and "no screening" in response.content.decode()


def test_the_client_fills_the_check_once_from_the_reminder_link(booked_plan, client, frozen_clock):
    from plans.outbox.links import link_url

    plan = booked_plan()
    s1 = mn(plan, 1)
    frozen_clock.move_to(s1.starts_at - dt.timedelta(days=2))  # when the 48-hour reminder arrives
    reminder = s1.messages.filter(kind__startswith="reminder:").first()
    url = link_url(reminder, "check").removeprefix("http://testserver").split("://", 1)[-1]
    url = url[url.index("/e/check/") :]
    assert client.get(url).status_code == 200
    form = {code: "no" for code in safety.recheck.CHECK_CODES}
    response = client.post(url, {**form, "recent_tan": "yes", "recent_tan_detail": "Sunbed on Saturday"})
    assert response.status_code == 200 and "Thank you" in response.content.decode()
    s1.refresh_from_db()
    assert s1.newest_pre_session_check().via == "client" and s1.newest_pre_session_check().yes_codes == ["recent_tan"]
    again = client.get(url).content.decode()
    assert "already recorded" in again
    # A tan (deferral of the shipped protocols) holds the plan for a clinician.
    plan.refresh_from_db()
    assert plan.is_on_hold


def test_after_a_continue_for_a_lower_cap_completion_above_it_needs_a_clinician_over_http(
    booked_plan, as_user, aesthetician, front_desk, clinician, frozen_clock
):
    plan = booked_plan(fitzpatrick=1, pore_concern="moderate")
    clients.client_update(client=plan.client, fitzpatrick=6)
    hold = safety.plan_open_hold(plan)
    decide = reverse("plan-hold-decide", args=[plan.pk, hold.pk])
    data = {"decision": HoldStatus.CONTINUED, "note": "Keeps her bookings within the IV-VI cap"}
    assert as_user(aesthetician).post(decide, data).status_code == 403
    assert as_user(front_desk).post(decide, data).status_code == 403
    assert as_user(clinician).post(decide, data).status_code == 302
    page = as_user(clinician).get(reverse("plan-detail", args=[plan.pk])).content.decode()
    assert "cap 1.0 mm" in page and "lowered from 1.5 mm" in page

    s3 = mn(plan, 3)
    frozen_clock.move_to(s3.starts_at + dt.timedelta(minutes=30))
    record_check(s3, by=aesthetician)
    url = reverse("session-complete", args=[s3.pk])
    for who in (aesthetician, front_desk):
        response = as_user(who).post(url, record_post(s3, "1.25") | {"above_plan_reason": "as planned"}, **JSON)
        assert response.status_code in (400, 403)
        if response.status_code == 400:
            assert response.json()["code"] == "needs_clinician"
    s3.refresh_from_db()
    assert s3.status == SessionStatus.BOOKED
    response = as_user(clinician).post(url, record_post(s3, "1.25") | {"above_plan_reason": "Test patch fine"}, **JSON)
    assert response.status_code == 200, response.json()
    assert s3.clinical_overrides.get().rule == "depth_above_cap"


@pytest.mark.parametrize("role", ["aesthetician", "front_desk"])
def test_moving_session_one_offers_the_booked_pih_check_in_the_cascade_over_http(
    screened, aesthetician, clinic, as_user, role, request
):
    import json

    from plans.models import SessionKind
    from tests.helpers.clock import at
    from tests.helpers.safety import book_all

    plan = make_plan_for(screened(fitzpatrick=5), aesthetician)
    book_all(plan, clinic["ana"])
    s1 = mn(plan, 1)
    pih = plan.sessions.get(kind=SessionKind.COMBINATION, title__startswith="PIH check")
    new_day = pih.local_date() - dt.timedelta(days=7)
    new_day += dt.timedelta(days=(7 - new_day.weekday()) % 7 if new_day.weekday() > 4 else 0)
    form = {
        "starts_at": timezone.localtime(at(new_day, 10)).strftime("%Y-%m-%dT%H:%M"),
        "practitioner": clinic["ana"].pk,
        "override_reason": "client away",
    }
    http = as_user(request.getfixturevalue(role))
    url = reverse("session-reschedule", args=[s1.pk])

    offered = http.post(url, form, **JSON)

    assert offered.status_code == 409 and offered.json()["code"] == "cascade_required"
    shifts = offered.json()["cascade"]
    (pih_shift,) = [s for s in shifts if s["session"] == pih.pk]
    assert "14 to 28 days after microneedling session 1" in pih_shift["reason"]
    pih.refresh_from_db()
    assert pih.local_date() - new_day < dt.timedelta(days=14)  # nothing moved yet

    done = http.post(url, {**form, "cascade": json.dumps(shifts)}, **JSON)

    assert done.status_code == 200, done.json()
    pih.refresh_from_db()
    assert 14 <= (pih.local_date() - new_day).days <= 28
