"""Persisting plans: one transaction, constant queries, refusals, recompute."""

import datetime as dt

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from plans.models import PlanSession, Protocol, SessionKind, SessionStatus, TreatmentPlan
from plans.services import clients
from plans.services import plans as plan_services
from tests.factories import ClientFactory, PractitionerFactory, RoomFactory
from tests.plans.factories import NO_TO_ALL

START = dt.date(2026, 3, 2)


@pytest.fixture
def screened_client(protocol, aesthetician):
    client = ClientFactory()
    clients.screening_record(client=client, answers=NO_TO_ALL, screened_by=aesthetician)
    return client


def test_plan_create_writes_the_plan_its_sessions_snapshot_and_rationale(screened_client, protocol, aesthetician):
    peel = protocol.combinations.get()
    plan = plan_services.plan_create(
        client=screened_client, start=START, combinations=[peel.pk], created_by=aesthetician
    )

    sessions = list(plan.sessions.order_by("sequence"))
    mn = [s for s in sessions if s.kind == SessionKind.MICRONEEDLING]
    peels = [s for s in sessions if s.kind == SessionKind.COMBINATION]
    assert [s.title for s in mn] == ["Microneedling 1 of 3", "Microneedling 2 of 3", "Microneedling 3 of 3"]
    assert [str(s.depth_mm) for s in mn] == ["0.50", "0.75", "1.00"]
    assert mn[0].target == START and mn[1].target == START + dt.timedelta(weeks=4)
    assert len(peels) == 2 and all(p.min_days_after_mn == 7 == p.min_days_before_mn for p in peels)
    assert sessions[-1].kind == SessionKind.FOLLOW_UP
    assert all(s.status == SessionStatus.PROPOSED for s in sessions)
    assert plan.protocol == protocol
    assert plan.protocol_snapshot["code"] == "pores-all"
    assert plan.protocol_snapshot["interval_min_days"] == 21
    assert plan.protocol_snapshot["combinations"][0]["min_days_after_mn"] == 7
    assert plan.protocol_snapshot["plan"]["care_schedule"]
    assert plan.selected_combinations == [peel.pk]
    assert {e["topic"] for e in plan.rationale} >= {"protocol", "interval", "depth", "combination", "follow_up"}
    assert plan.review_items == [] and plan.review_acknowledged_by is None


@pytest.mark.parametrize("sessions", [3, 6])
def test_plan_create_uses_the_same_number_of_queries_whatever_the_session_count(
    sessions, protocol, screened_client, aesthetician, django_assert_max_num_queries
):
    protocol.session_count = sessions
    protocol.depth_schedule = [0.5] * sessions
    protocol.save()

    # The budget: 10 SQL statements (reads, then plan, sessions and their history rows in bulk),
    # plus one: whether an adverse event holds the client (a new plan starts held then, issue 17);
    # the transaction adds BEGIN/COMMIT (SAVEPOINTs inside the test's transaction).
    with django_assert_max_num_queries(13):
        plan = plan_services.plan_create(client=screened_client, start=START, created_by=aesthetician)

    assert plan.sessions.filter(kind=SessionKind.MICRONEEDLING).count() == sessions


def test_plan_create_costs_exactly_the_same_queries_for_three_and_six_sessions(protocol, screened_client, aesthetician):
    counts = []
    for sessions in (3, 6):
        protocol.session_count = sessions
        protocol.depth_schedule = [0.5] * sessions
        protocol.save()
        with CaptureQueriesContext(connection) as queries:
            plan_services.plan_create(client=screened_client, start=START, created_by=aesthetician)
        counts.append(len(queries))

    assert counts[0] == counts[1]


def test_a_failure_half_way_leaves_nothing_behind(screened_client, aesthetician, monkeypatch):
    def broken_bulk_create(*args, **kwargs):
        raise IntegrityError("disk on fire")

    monkeypatch.setattr(PlanSession.objects, "bulk_create", broken_bulk_create)

    with pytest.raises(IntegrityError):
        plan_services.plan_create(client=screened_client, start=START, created_by=aesthetician)

    assert not TreatmentPlan.objects.exists()
    assert not PlanSession.objects.exists()


def test_a_hard_stop_is_refused_and_writes_nothing(protocol, aesthetician):
    client = ClientFactory()
    clients.screening_record(
        client=client, answers={**NO_TO_ALL, "pregnant_nursing": (True, None)}, screened_by=aesthetician
    )

    with pytest.raises(plan_services.PlanHardStop, match="Pregnancy or nursing"):
        plan_services.plan_create(client=client, start=START, created_by=aesthetician)
    assert not TreatmentPlan.objects.exists()


def test_a_review_item_no_longer_needs_a_checkbox_but_the_plan_waits_for_a_clinicians_signoff(protocol, aesthetician):
    client = ClientFactory()
    clients.screening_record(
        client=client, answers={**NO_TO_ALL, "anticoagulants": (True, None)}, screened_by=aesthetician
    )

    plan = plan_services.plan_create(client=client, start=START, created_by=aesthetician)

    assert plan.review_items[0]["question_code"] == "anticoagulants"
    assert plan.review_pending and plan.clinical_refusal()[0] == "review_pending"
    assert not plan.review_signoffs.exists()


def test_a_plan_for_a_client_never_screened_is_refused(protocol, aesthetician):
    with pytest.raises(plan_services.NoScreening, match="no screening"):
        plan_services.plan_create(client=ClientFactory(), start=START, created_by=aesthetician)
    assert not TreatmentPlan.objects.exists()


def test_no_matching_protocol_is_refused(protocol, aesthetician):
    protocol.fitzpatrick_max = 3
    protocol.save()
    client = ClientFactory(fitzpatrick=5)
    clients.screening_record(client=client, answers=NO_TO_ALL, screened_by=aesthetician)

    with pytest.raises(plan_services.NoMatchingProtocol):
        plan_services.plan_create(client=client, start=START, created_by=aesthetician)


def test_an_isotretinoin_deferral_moves_the_stored_earliest_start(protocol, aesthetician):
    client = ClientFactory()
    clients.screening_record(
        client=client,
        answers={**NO_TO_ALL, "isotretinoin": (True, dt.date(2026, 1, 15))},
        screened_by=aesthetician,
    )

    plan = plan_services.plan_create(client=client, start=START, created_by=aesthetician)

    assert plan.requested_start == START and plan.earliest_start == dt.date(2026, 7, 15)
    assert plan.sessions.order_by("sequence").first().target == dt.date(2026, 7, 15)


def test_the_same_request_token_twice_makes_one_plan(screened_client, aesthetician):
    first = plan_services.plan_create(client=screened_client, start=START, created_by=aesthetician, request_token="t1")
    again = plan_services.plan_create(client=screened_client, start=START, created_by=aesthetician, request_token="t1")

    assert first.pk == again.pk
    assert TreatmentPlan.objects.count() == 1


def test_plan_preview_writes_nothing(screened_client):
    proposal = plan_services.plan_preview(client=screened_client, start=START)

    assert proposal.ok and len(proposal.mn_sessions) == 3
    assert not TreatmentPlan.objects.exists()


def test_recompute_moves_an_unbooked_plan_to_a_new_start_and_choice(screened_client, protocol, aesthetician):
    plan = plan_services.plan_create(client=screened_client, start=START, created_by=aesthetician)
    peel = protocol.combinations.get()

    plan_services.plan_recompute(
        plan=plan, start=START + dt.timedelta(days=14), combinations=[peel.pk], by=aesthetician
    )

    plan.refresh_from_db()
    assert plan.requested_start == START + dt.timedelta(days=14)
    assert plan.selected_combinations == [peel.pk]
    assert plan.sessions.filter(kind=SessionKind.COMBINATION).count() == 2
    assert plan.sessions.order_by("sequence").first().target == START + dt.timedelta(days=14)


def test_recompute_refuses_a_plan_with_a_booked_session(screened_client, aesthetician):
    plan = plan_services.plan_create(client=screened_client, start=START, created_by=aesthetician)
    first = plan.sessions.order_by("sequence").first()
    PlanSession.objects.filter(pk=first.pk).update(
        status=SessionStatus.BOOKED,
        starts_at=dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC),
        ends_at=dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC),
        blocked_until=dt.datetime(2026, 3, 2, 10, 15, tzinfo=dt.UTC),
        practitioner=PractitionerFactory(),
        room=RoomFactory(),
    )

    with pytest.raises(plan_services.PlanLocked, match="rescheduling"):
        plan_services.plan_recompute(plan=plan, start=START + dt.timedelta(days=7), by=aesthetician)

    plan.refresh_from_db()
    assert plan.requested_start == START


def test_protocol_selector_uses_a_constant_number_of_queries(protocol, django_assert_num_queries):
    from tests.plans.factories import clinic_protocol

    clinic_protocol(name="Second", code="second")
    Protocol.objects.filter(pk=protocol.pk).update(active=True)
    with django_assert_num_queries(5):
        params = plan_services.protocol_params_active()
    assert {p.code for p in params} == {"pores-all", "second"}
    assert all(len(p.contraindications) == 3 and p.care_notes and p.reminder_leads for p in params)


def test_plan_create_records_each_session_in_the_audit_history_with_its_author(screened_client, protocol, aesthetician):
    plan = plan_services.plan_create(client=screened_client, start=START, created_by=aesthetician)

    sessions = list(plan.sessions.all())
    history = PlanSession.history.filter(plan_id=plan.pk, history_type="+")
    assert history.count() == len(sessions) > 0
    assert {h.history_user_id for h in history} == {aesthetician.pk}
