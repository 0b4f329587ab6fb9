"""Today's clinical worklist: plans blocked for a clinician and tomorrow's missing pre-session
checks, each appearing with the event that causes it and gone with the one that resolves it,
and never computed for front desk."""

import datetime as dt
from dataclasses import replace

import pytest
from django.urls import reverse

from plans import worklist
from plans.models import HoldStatus
from plans.services import clients, safety
from tests.helpers.clock import at
from tests.helpers.safety import make_plan_for, mn, no_to_all, record_check

pytestmark = pytest.mark.django_db


def items_of(code: str, *, clinical: bool = True) -> list[worklist.WorkItem]:
    return [i for g in worklist.worklist(clinical=clinical) if g.code == code for i in g.items]


def outstanding_of(session, *, clinical: bool = True) -> list[str]:
    day = session.local_date()
    return [
        o.code
        for d in worklist.today_appointments(day=day, clinical=clinical)
        for a in d.appointments
        if a.session.pk == session.pk
        for o in a.outstanding
    ]


def test_a_plan_on_clinical_hold_is_listed_until_a_clinician_decides(booked_plan, aesthetician, clinician):
    plan = booked_plan()
    assert items_of("blocked") == []
    clients.client_update(client=plan.client, screening=no_to_all(anticoagulants=None), screened_by=aesthetician)
    [item] = items_of("blocked")
    assert item.url == reverse("plan-detail", args=[plan.pk]) + "#clinical-hold"
    assert "clinical hold" in item.detail and item.title == plan.client.full_name

    safety.hold_decide(
        hold=safety.plan_open_hold(plan), decision=HoldStatus.CONTINUED, note="GP approved", by=clinician
    )
    assert items_of("blocked") == []


def test_a_plan_with_review_items_unsigned_is_listed_until_the_last_is_signed_off(screened, aesthetician, clinician):
    plan = make_plan_for(screened(yes={"anticoagulants": None, "herpes_history": None}), aesthetician)
    codes = sorted({item["question_code"] for item in plan.review_items})
    [item] = items_of("blocked")
    assert item.url.endswith("#review-signoffs") and "sign-off" in item.detail
    for code in codes[:-1]:
        safety.review_signoff(plan=plan, question_code=code, note="GP letter on file", by=clinician)
    assert len(items_of("blocked")) == 1  # one item still waits
    safety.review_signoff(plan=plan, question_code=codes[-1], note="GP letter on file", by=clinician)
    assert items_of("blocked") == []


def test_tomorrows_microneedling_without_a_current_check_is_listed_until_it_is_recorded(
    booked_plan, aesthetician, frozen_clock, settings
):
    plan = booked_plan()
    s1 = mn(plan, 1)
    day_before = s1.local_date() - dt.timedelta(days=1)
    frozen_clock.move_to(at(day_before - dt.timedelta(days=1), 9))
    assert items_of("check") == []  # the day after tomorrow: not yet

    frozen_clock.move_to(at(day_before, 9))
    [item] = items_of("check")
    assert item.session_id == s1.pk and item.url.startswith(reverse("session-check", args=[s1.pk]))
    assert "Tomorrow" in item.detail

    record_check(s1, by=aesthetician)
    assert items_of("check") == []


def test_a_check_that_will_be_stale_by_tomorrows_session_does_not_count(booked_plan, aesthetician, frozen_clock):
    plan = booked_plan()
    s1, s2 = mn(plan, 1), mn(plan, 2)
    frozen_clock.move_to(s1.starts_at - dt.timedelta(hours=1))
    record_check(s1, by=aesthetician)  # weeks before session 2
    frozen_clock.move_to(at(s2.local_date() - dt.timedelta(days=1), 9))
    assert [i.session_id for i in items_of("check")] == [s2.pk]


def test_todays_appointment_shows_the_missing_check_and_the_hold_until_resolved(
    booked_plan, aesthetician, clinician, frozen_clock
):
    plan = booked_plan()
    s1 = mn(plan, 1)
    frozen_clock.move_to(s1.starts_at - dt.timedelta(hours=1))
    assert "check" in outstanding_of(s1)
    record_check(s1, by=aesthetician)
    assert "check" not in outstanding_of(s1)

    clients.client_update(client=plan.client, screening=no_to_all(anticoagulants=None), screened_by=aesthetician)
    assert "hold" in outstanding_of(s1)
    safety.hold_decide(
        hold=safety.plan_open_hold(plan), decision=HoldStatus.CONTINUED, note="GP approved", by=clinician
    )
    assert "hold" not in outstanding_of(s1)


def test_front_desk_never_has_the_clinical_items_computed(booked_plan, aesthetician, frozen_clock, monkeypatch):
    plan = booked_plan()
    s1 = mn(plan, 1)
    clients.client_update(client=plan.client, screening=no_to_all(anticoagulants=None), screened_by=aesthetician)
    frozen_clock.move_to(s1.starts_at - dt.timedelta(hours=1))
    assert {g.code for g in worklist.worklist(clinical=True)} >= {"blocked"}
    assert {"hold", "check"} <= set(outstanding_of(s1))

    def never(*args, **kwargs):
        raise AssertionError("a clinical item was computed for front desk")

    providers = [
        replace(p, read=never, choose=never if p.choose else None) if p.clinical else p for p in worklist.PROVIDERS
    ]
    monkeypatch.setattr(worklist, "PROVIDERS", providers)
    outstanding = [never if f in worklist.CLINICAL_OUTSTANDING else f for f in worklist.OUTSTANDING]
    monkeypatch.setattr(worklist, "OUTSTANDING", outstanding)
    monkeypatch.setattr(worklist, "CLINICAL_OUTSTANDING", {never})
    assert {g.code for g in worklist.worklist(clinical=False)} & {"blocked", "check"} == set()
    assert set(outstanding_of(s1, clinical=False)) & {"hold", "check", "review"} == set()


def test_front_desks_today_page_names_no_hold_and_no_check(client, booked_plan, aesthetician, front_desk, frozen_clock):
    plan = booked_plan()
    s1 = mn(plan, 1)
    clients.client_update(client=plan.client, screening=no_to_all(anticoagulants=None), screened_by=aesthetician)
    frozen_clock.move_to(at(s1.local_date() - dt.timedelta(days=1), 9))
    client.force_login(aesthetician)
    clinical_page = client.get(reverse("home")).content.decode()
    assert "Plans blocked for clinical review" in clinical_page
    assert "Pre-session checks missing for tomorrow" in clinical_page
    client.force_login(front_desk)
    page = client.get(reverse("home")).content.decode()
    for text in ("clinical review", "Clinical hold", "pre-session", "Pre-session", "sign-off", "anticoagul"):
        assert text not in page, text
