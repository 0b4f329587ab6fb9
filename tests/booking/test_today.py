"""Today: the day's appointments and a worklist where each item appears with the event that
causes it and disappears with the one that resolves it, at a fixed number of queries."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from plans import models, rebooking, worklist
from plans.services import booking
from plans.services import messages as message_services
from tests.factories import PractitionerFactory
from tests.helpers.clock import at
from tests.helpers.plans import plan_to_book
from tests.helpers.queries import TODAY_BUDGET
from tests.helpers.records import record_post
from tests.helpers.safety import record_check

MON = dt.date(2027, 3, 1)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_clock():
    # Monday 1 March 2027, 08:00 in London: before the day's first appointment.
    with time_machine.travel(at(MON, 8), tick=False) as traveller:
        yield traveller


def first(plan):
    return plan.sessions.order_by("sequence").first()


def codes(user_client) -> list[str]:
    response = user_client.get(reverse("home"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return [(g.code, item.session_id or item.message_id) for g in response.context["groups"] for item in g.items]


def items_of(code: str, *, clinical=True) -> list[worklist.WorkItem]:
    return [i for g in worklist.worklist(clinical=clinical) if g.code == code for i in g.items]


def booked_today(clinic, n: int, *, after: int = 0) -> list[models.TreatmentPlan]:
    """n plans whose first session is booked today, Ana and Ben alternately every 75 minutes."""
    plans = []
    for i in range(after, after + n):
        # Twelve a day fit; the rest go on the following weekdays.
        k = i // 12
        day = MON + dt.timedelta(days=k // 5 * 7 + k % 5)
        plan = plan_to_book(first_target=day, count=3)
        who = clinic["ana"] if i % 2 == 0 else clinic["ben"]
        start = at(day, 9) + dt.timedelta(minutes=75 * (i // 2 % 6))
        booking.session_book(session=first(plan), starts_at=start, practitioner=who)
        plans.append(plan)
    return plans


def add_work(clinic, n: int, *, after: int = 0) -> None:
    """n of each worklist item: cancelled sessions, plans to book, failed emails, follow-ups due,
    plans held or waiting for a review sign-off, and tomorrow's sessions without a pre-session check."""
    tomorrow = MON + dt.timedelta(days=1)
    # Four practitioners of their own, each a session every 25 minutes of tomorrow.
    who = [PractitionerFactory() for _ in range(4)]
    for k in range(n):
        plan = plan_to_book(first_target=tomorrow, count=1)
        start = at(tomorrow, 0) + dt.timedelta(minutes=25 * (k // 4))
        plan.sessions.update(
            status="booked",
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=20),
            blocked_until=start + dt.timedelta(minutes=20),
            practitioner=who[k % 4],
        )
        blocked = plan_to_book(first_target=MON + dt.timedelta(days=40), count=1)
        flag = {"hold_opened_at": at(MON, 7)} if k % 2 else {"review_pending": True}
        models.TreatmentPlan.objects.filter(pk=blocked.pk).update(**flag)
    for plan in booked_today(clinic, n, after=after):
        booking.session_cancel(session=first(plan), by_client=True, reason="Ill")
        models.Message.objects.filter(session__plan=plan).update(status=models.MessageStatus.FAILED, last_error="550")
    for i in range(after, after + n):
        plan_to_book(first_target=MON + dt.timedelta(days=30), count=2)
        # A plan done 20 weeks ago (one visit an hour apart each), its follow-up window open now.
        follow = plan_to_book(first_target=MON - dt.timedelta(days=140), count=1, follow_up=True)
        done = at(MON - dt.timedelta(days=140), 0) + dt.timedelta(hours=i)
        follow.sessions.filter(kind="microneedling").update(
            status="completed",
            starts_at=done,
            ends_at=done + dt.timedelta(minutes=30),
            blocked_until=done + dt.timedelta(minutes=30),
            practitioner=clinic["ana"],
        )


def count(user_client, params=None, **headers) -> int:
    user_client.get(reverse("home"), **headers)
    with CaptureQueriesContext(connection) as ctx:
        response = user_client.get(reverse("home"), **headers)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("who", ["aesthetician", "front_desk"])
def test_today_and_its_worklist_run_the_same_queries_for_2_and_200_items(client, clinic, who, request):
    client.force_login(request.getfixturevalue(who))
    booked_today(clinic, 2)
    add_work(clinic, 2, after=1000)  # booked (then cancelled) weeks ahead, out of today's way
    small = (count(client), count(client, HTTP_HX_REQUEST="true"))
    booked_today(clinic, 8, after=2)
    add_work(clinic, 198, after=1002)  # more than a provider lists: "+N more" instead of rows
    large = (count(client), count(client, HTTP_HX_REQUEST="true"))
    assert large == small, "Today's query count grew with the data"
    assert max(large) <= TODAY_BUDGET, large


def test_todays_appointments_per_practitioner_in_time_order_with_actions_and_outstanding(client, clinic, aesthetician):
    plans = booked_today(clinic, 4)
    client.force_login(aesthetician)
    days = client.get(reverse("home")).context["days"]
    assert [d.name for d in days] == ["Ana Silva", "Ben Okafor"]
    ana = days[0].appointments
    assert [a.session.starts_at for a in ana] == sorted(a.session.starts_at for a in ana)
    assert ana[0].session.label == "Microneedling session 1 of 3"
    # No pre-session check yet, and sessions 2 and 3 not booked.
    assert [o.code for o in ana[0].outstanding] == ["check", "unbooked"]
    assert ana[0].actions == ["check_in", "reschedule", "cancel"]  # not begun yet: no complete or no-show
    with time_machine.travel(at(MON, 9, 5), tick=False):
        page = client.get(reverse("home")).content.decode()
        # A microneedling session is completed by signing off its treatment record.
        assert f'href="{reverse("session-record", args=[first(plans[0]).pk])}" data-action="complete"' in page
        assert f'action="{reverse("session-no-show", args=[first(plans[0]).pk])}"' in page


def test_completing_from_today_records_the_session_and_returns_to_today(client, clinic, aesthetician):
    plan = booked_today(clinic, 1)[0]
    client.force_login(aesthetician)
    with time_machine.travel(at(MON, 10), tick=False):
        record_check(first(plan), by=aesthetician)  # a session is completed only after its pre-session check
        response = client.post(
            reverse("session-complete", args=[first(plan).pk]), record_post(first(plan)) | {"next": reverse("home")}
        )
    assert response.status_code == 302 and response.url == reverse("home")
    assert first(plan).status == models.SessionStatus.COMPLETED


def test_a_session_cancelled_by_the_client_is_on_the_worklist_until_rebooked(clinic):
    plan = booked_today(clinic, 1)[0]
    session = first(plan)
    assert items_of("rebook") == []
    message_services.session_cancel_from_link(
        session=session, version=session.version, now=at(MON, 8) - dt.timedelta(days=3)
    )
    [item] = items_of("rebook")
    assert item.session_id == session.pk and "Cancelled by the client" in item.detail
    offers = rebooking.rebook_offers(session=first(plan))
    assert offers and offers[0].preferred and offers[0].practitioner == "Ana Silva"
    booking.session_book(
        session=first(plan),
        starts_at=offers[0].start,
        practitioner=models.Practitioner.objects.get(pk=offers[0].practitioner_id),
    )
    assert items_of("rebook") == []


def test_a_no_show_is_on_the_worklist_and_a_cancelled_plan_takes_it_off(clinic):
    plan = booked_today(clinic, 1)[0]
    with time_machine.travel(at(MON, 9, 30), tick=False):
        booking.session_mark_no_show(session=first(plan))
        assert [i.session_id for i in items_of("rebook")] == [first(plan).pk]
    models.TreatmentPlan.objects.filter(pk=plan.pk).update(status=models.PlanStatus.CANCELLED)
    assert items_of("rebook") == []


def test_an_accepted_plan_with_unbooked_sessions_is_listed_until_booked(clinic):
    plan = plan_to_book(first_target=MON + dt.timedelta(days=7), count=2)
    [item] = items_of("book-plan")
    assert item.url == reverse("plan-book", args=[plan.pk]) and "2 sessions not booked" in item.detail
    for s in plan.sessions.order_by("sequence"):
        day = s.target
        booking.session_book(session=s, starts_at=at(day, 9), practitioner=clinic["ana"])
    assert items_of("book-plan") == []


def test_a_failed_email_is_listed_until_resent(clinic):
    plan = booked_today(clinic, 1)[0]
    message = models.Message.objects.filter(session__plan=plan).first()
    assert items_of("email") == []
    models.Message.objects.filter(pk=message.pk).update(
        status=models.MessageStatus.FAILED, last_error="550 no such user"
    )
    [item] = items_of("email")
    assert item.message_id == message.pk and "550 no such user" in item.detail
    message_services.message_resend(message=message, by=None)
    assert items_of("email") == []


def test_an_email_that_expired_before_an_appointment_still_to_come_is_listed_until_resent(clinic):
    plan = booked_today(clinic, 1, after=12)[0]  # tomorrow
    message = models.Message.objects.filter(session__plan=plan).order_by("send_at").first()
    models.Message.objects.filter(pk=message.pk).update(
        status=models.MessageStatus.EXPIRED, status_reason="Beat was down", send_at=at(MON, 7)
    )
    [item] = items_of("email")
    assert item.message_id == message.pk and "Beat was down" in item.detail
    models.PlanSession.objects.filter(plan=plan).update(starts_at=at(MON, 7, 30))  # the appointment is past
    assert items_of("email") == []


def test_a_follow_up_is_listed_while_its_window_is_open_and_not_booked(clinic):
    plan = plan_to_book(first_target=MON - dt.timedelta(days=60), count=1, follow_up=True)
    follow = plan.sessions.get(kind="follow_up")
    assert items_of("follow-up") == []  # its window opens later
    with time_machine.travel(at(follow.earliest, 8), tick=False):
        [item] = items_of("follow-up")
        assert item.session_id == follow.pk
        booking.session_book(session=follow, starts_at=at(follow.earliest, 9), practitioner=clinic["ana"])
        assert items_of("follow-up") == []


def test_rebook_offers_keep_the_plans_intervals_and_book_in_one_tap(client, clinic, front_desk):
    plan = plan_to_book(first_target=MON + dt.timedelta(days=7), count=3)
    s1, s2, s3 = plan.sessions.order_by("sequence")
    for s in (s1, s2, s3):
        booking.session_book(session=s, starts_at=at(s.target, 11), practitioner=clinic["ben"])
    booking.session_cancel(session=s2, by_client=False, reason="Practitioner ill")
    client.force_login(front_desk)
    response = client.get(reverse("session-rebook", args=[s2.pk]), {"next": reverse("home")})
    offers = response.context["offers"]
    params = plan.params
    for offer in offers:
        day = offer.start.date()
        assert s2.earliest <= day <= s2.latest
        assert params.interval_min_days <= (day - s1.target).days <= params.interval_max_days
        assert params.interval_min_days <= (s3.target - day).days <= params.interval_max_days
    assert offers[0].preferred and offers[0].practitioner == "Ben Okafor"
    page = response.content.decode()
    assert f'action="{reverse("session-book", args=[s2.pk])}"' in page
    o = offers[0]
    booked = client.post(
        reverse("session-book", args=[s2.pk]),
        {"starts_at": o.wall, "practitioner": o.practitioner_id, "room": o.room_id, "next": reverse("home")},
    )
    assert booked.status_code == 302 and booked.url == reverse("home")
    s2.refresh_from_db()
    assert s2.status == models.SessionStatus.BOOKED and s2.starts_at == o.start


def test_the_session_panel_of_a_cancelled_session_loads_its_rebooking_slots(client, clinic, front_desk):
    plan = booked_today(clinic, 1)[0]
    booking.session_cancel(session=first(plan), by_client=True, reason="Ill")
    client.force_login(front_desk)
    page = client.get(reverse("session-panel", args=[first(plan).pk])).content.decode()
    assert reverse("session-rebook", args=[first(plan).pk]) in page


def test_front_desks_today_holds_no_clinical_text(client, clinic, front_desk, aesthetician):
    plans = booked_today(clinic, 3)  # the third one's completion form asks for the depth used
    plan = plans[0]
    models.TreatmentPlan.objects.filter(pk=plan.pk).update(
        review_items=[{"text": "Isotretinoin within 6 months: confirm with GP", "code": "isotretinoin"}],
        review_pending=True,
        rationale=[{"factor": "Fitzpatrick V", "effect": "excluded deep protocol"}],
        warnings=["Keloid history"],
    )
    models.PlanSession.objects.filter(pk=first(plans[1]).pk).update(notes="Clinical note: erythema")
    booking.session_cancel(session=first(plans[1]), by_client=True, reason="Ill")
    client.force_login(aesthetician)
    with time_machine.travel(at(MON, 10, 20), tick=False):  # the third began at 10:15
        clinical_page = client.get(reverse("home")).content.decode()
        client.force_login(front_desk)
        page = client.get(reverse("home")).content.decode()
    assert "Review not signed" in clinical_page and "Treatment record" in clinical_page
    assert plan.client.full_name in page  # front desk sees who is booked, and the booking work
    assert 'data-item="rebook"' in page
    for text in ("Isotretinoin", "Fitzpatrick", "Keloid", "erythema", "Review not signed", "Treatment record", "mm"):
        assert text not in page, text


def test_session_items_keep_each_kinds_order_and_limit_and_one_session_may_be_in_two_groups(clinic, monkeypatch):
    """The kinds of session item are chosen in one UNION ALL: each keeps its own order (most
    urgent first) and its own limit, and a session two kinds choose is listed under both."""
    monkeypatch.setattr(worklist, "ITEM_LIMIT", 3)
    plans = booked_today(clinic, 5)
    # Cancelled in an order that is not the windows' order: the list goes by the window closing first.
    for plan in reversed(plans):
        booking.session_cancel(session=first(plan), by_client=True, reason="Ill")
    rebook = [g for g in worklist.worklist(clinical=True) if g.code == "rebook"][0]
    by_window = sorted(plans, key=lambda p: (first(p).latest, first(p).pk))
    assert [i.session_id for i in rebook.items] == [first(p).pk for p in by_window[:3]]
    assert rebook.more

    # Tomorrow's session, moved by the client, with no pre-session check: both kinds list it.
    tomorrow = plan_to_book(first_target=MON + dt.timedelta(days=1), count=1)
    booking.session_book(
        session=first(tomorrow), starts_at=at(MON + dt.timedelta(days=1), 10), practitioner=clinic["ana"]
    )
    models.PlanSession.objects.filter(pk=first(tomorrow).pk).update(moved_by_client_at=at(MON, 7))
    groups = {g.code: [i.session_id for i in g.items] for g in worklist.worklist(clinical=True)}
    assert first(tomorrow).pk in groups["check"]
    assert first(tomorrow).pk in groups["moved-by-client"]
    # Front desk: the clinical kind is not chosen at all, the other still is.
    groups = {g.code: [i.session_id for i in g.items] for g in worklist.worklist(clinical=False)}
    assert "check" not in groups
    assert groups["moved-by-client"] == [first(tomorrow).pk]


def test_plans_to_book_come_by_their_first_window_past_the_visits_of_stopped_plans(clinic, monkeypatch):
    """The walk over visits to book (worklist.plans_to_book) passes the visits of plans that are
    over, and lists the active plans whose first window opens soonest, as grouping all would."""
    monkeypatch.setattr(worklist, "ITEM_LIMIT", 2)
    monkeypatch.setattr(worklist, "VISITS_PER_PLAN_BOUND", 3)
    # Stopped plans with the earliest windows of all: never listed, and they fill the walk's first visits.
    for k in range(4):
        stopped = plan_to_book(first_target=MON + dt.timedelta(days=1 + k), count=3)
        models.TreatmentPlan.objects.filter(pk=stopped.pk).update(status=models.PlanStatus.CANCELLED)
    later, soonest, middle = (plan_to_book(first_target=MON + dt.timedelta(days=d), count=3) for d in (40, 20, 30))
    [first, second] = items_of("book-plan")
    assert [first.url, second.url] == [reverse("plan-book", args=[p.pk]) for p in (soonest, middle)]
    assert [g.more for g in worklist.worklist(clinical=True) if g.code == "book-plan"] == [True]
    assert later  # the third, behind "more"
