"""Check-in and start: session actions the model allows or refuses, recorded as timestamps the
database keeps in order, offered as one-tap buttons on Today and in the calendar's dialog."""

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.urls import reverse

from plans import models
from plans.services import booking
from tests.helpers.clock import at
from tests.helpers.plans import plan_to_book
from tests.helpers.records import complete
from tests.helpers.safety import record_check

MON = dt.date(2027, 3, 1)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_clock():
    # Monday 1 March 2027, 08:50 in London: ten minutes before the first appointment.
    with time_machine.travel(at(MON, 8, 50), tick=False) as traveller:
        yield traveller


@pytest.fixture
def session(clinic):
    plan = plan_to_book(first_target=MON, count=2)
    s = plan.sessions.get(sequence=1)
    return booking.session_book(session=s, starts_at=at(MON, 9), practitioner=clinic["ana"])


def fresh(session) -> models.PlanSession:
    return models.PlanSession.objects.select_related("plan").get(pk=session.pk)


# --- The model's rules ------------------------------------------------------------------------


def test_check_in_is_offered_only_on_the_appointments_day(session):
    assert session.can("check_in", now=at(MON, 8))
    assert not session.can("check_in", now=at(MON, 8) - dt.timedelta(days=1))
    assert "check in on its day" in session.refusal("check_in", now=at(MON + dt.timedelta(days=1), 9))
    assert not session.can("start", now=at(MON, 8))  # not before the client is here
    assert "Check the client in" in session.refusal("start", now=at(MON, 8))


def test_a_checked_in_client_is_started_then_completed_and_cannot_be_a_no_show_or_moved(session, aesthetician):
    booking.session_check_in(session=session, by=aesthetician)
    s = fresh(session)
    assert s.checked_in_at == at(MON, 8, 50) and s.checked_in_by == aesthetician
    assert s.status_label == "Checked in"
    assert s.available_actions(now=at(MON, 9, 5)) == ["start", "cancel"]
    assert "checked in" in s.refusal("no_show", now=at(MON, 9, 5))
    assert "Start" in s.refusal("complete", now=at(MON, 9, 5))

    record_check(s, by=aesthetician)
    booking.session_start(session=s, by=aesthetician)
    s = fresh(session)
    assert s.started_at == at(MON, 8, 50) and s.status_label == "In treatment"
    # She came early: in treatment before the booked 09:00, so it can be completed at once.
    assert s.available_actions(now=at(MON, 8, 55)) == ["complete"]  # neither cancelled nor restarted
    with time_machine.travel(at(MON, 9, 40), tick=False):
        complete(s, "0.5", by=aesthetician)
    s = fresh(session)
    assert s.status == models.SessionStatus.COMPLETED and s.completed_at >= s.started_at
    assert s.status_label == "Completed" and not s.can("check_in", now=at(MON, 9, 45))


def test_a_second_check_in_is_refused_as_already_done_and_changes_nothing(session, aesthetician, front_desk):
    booking.session_check_in(session=session, by=front_desk)
    with pytest.raises(booking.AlreadyDone) as refused:
        booking.session_check_in(session=session, by=aesthetician)
    assert "already checked in (at 08:50)" in str(refused.value)
    assert fresh(session).checked_in_by == front_desk


def test_starting_microneedling_needs_a_current_pre_session_check(session, aesthetician):
    booking.session_check_in(session=session, by=aesthetician)
    with pytest.raises(booking.BookingError) as refused:
        booking.session_start(session=session, by=aesthetician)
    assert refused.value.code == "needs_pre_session_check"
    assert fresh(session).started_at is None


def test_a_held_plan_is_checked_in_but_not_started(session, aesthetician):
    models.TreatmentPlan.objects.filter(pk=session.plan_id).update(hold_opened_at=at(MON, 8))
    booking.session_check_in(session=fresh(session), by=aesthetician)
    s = fresh(session)
    assert s.refusal_code("start", now=at(MON, 9)) == "clinical_hold"
    with pytest.raises(booking.BookingError) as refused:
        booking.session_start(session=s, by=aesthetician)
    assert refused.value.code == "clinical_hold"


def test_cancelling_a_checked_in_visit_clears_its_arrival_and_a_started_one_is_not_cancelled(session, aesthetician):
    booking.session_check_in(session=session, by=aesthetician)
    booking.session_cancel(session=session, by_client=True, reason="Felt unwell in the waiting room")
    s = fresh(session)
    assert s.status == models.SessionStatus.CANCELLED and s.checked_in_at is None

    other = plan_to_book(first_target=MON, count=1).sessions.get()
    other = booking.session_book(session=other, starts_at=at(MON, 11), practitioner=session.practitioner)
    booking.session_check_in(session=other, by=aesthetician)
    record_check(other, by=aesthetician)
    booking.session_start(session=other, by=aesthetician)
    with pytest.raises(booking.BookingError, match="in treatment"):
        booking.session_cancel(session=other, by_client=False, reason="x")


@pytest.mark.parametrize(
    "fields",
    [
        {"started_at": at(MON, 9)},  # started, never checked in
        {"checked_in_at": at(MON, 9), "started_at": at(MON, 8)},  # started before arriving
        {"checked_in_at": at(MON, 9), "status": "cancelled"},  # arrival kept on a cancelled visit
        {"checked_in_at": at(MON, 8), "started_at": at(MON, 9), "completed_at": at(MON, 8, 30)},
    ],
)
def test_the_database_refuses_arrival_and_treatment_out_of_order(session, fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        models.PlanSession.objects.filter(pk=session.pk).update(**fields)


# --- Over HTTP: Today's buttons, the calendar's dialog and JSON -------------------------------


def test_today_offers_check_in_then_start_and_shows_the_status(client, session, aesthetician):
    client.force_login(aesthetician)
    page = client.get(reverse("home")).content.decode()
    assert f'action="{reverse("session-check-in", args=[session.pk])}"' in page
    assert f'action="{reverse("session-start", args=[session.pk])}"' not in page

    response = client.post(reverse("session-check-in", args=[session.pk]), {"next": reverse("home")})
    # No current pre-session check: the form comes next, and leads back to Today.
    assert response.status_code == 302
    assert response.url == f"{reverse('session-check', args=[session.pk])}?next={reverse('home')}"
    assert "Checked in" in client.get(response.url).content.decode()  # the flash message
    record_check(session, by=aesthetician)

    page = client.get(reverse("home")).content.decode()
    assert f'action="{reverse("session-check-in", args=[session.pk])}"' not in page
    assert f'action="{reverse("session-start", args=[session.pk])}"' in page
    assert ">Checked in</span>" in page

    response = client.post(reverse("session-start", args=[session.pk]), {"next": reverse("home")})
    assert response.status_code == 302 and response.url == reverse("home")
    assert ">In treatment</span>" in client.get(reverse("home")).content.decode()


def test_starting_without_a_check_goes_to_its_form_and_records_nothing(client, session, aesthetician):
    booking.session_check_in(session=session, by=aesthetician)
    client.force_login(aesthetician)
    response = client.post(reverse("session-start", args=[session.pk]), {"next": reverse("home")})
    assert response.status_code == 302 and response.url.startswith(reverse("session-check", args=[session.pk]))
    assert fresh(session).started_at is None


def test_front_desk_checks_in_back_to_today_but_never_starts_or_sees_the_check(client, session, front_desk):
    client.force_login(front_desk)
    response = client.post(reverse("session-check-in", args=[session.pk]), {"next": reverse("home")})
    assert response.status_code == 302 and response.url == reverse("home")
    page = client.get(reverse("home")).content.decode()
    assert ">Checked in</span>" in page
    assert "session-start" not in page and reverse("session-start", args=[session.pk]) not in page
    assert "pre-session" not in page.lower()
    assert client.post(reverse("session-start", args=[session.pk])).status_code == 403


def test_json_answers_a_second_tap_409_with_a_code_and_the_first_with_the_check_form(client, session, aesthetician):
    client.force_login(aesthetician)
    url = reverse("session-check-in", args=[session.pk])
    first = client.post(url, {"next": reverse("calendar")}, HTTP_ACCEPT="application/json")
    assert first.status_code == 200 and first.json()["ok"]
    assert first.json()["next"].startswith(reverse("session-check", args=[session.pk]))
    second = client.post(url, HTTP_ACCEPT="application/json")
    assert second.status_code == 409
    assert second.json()["code"] == "already_done" and "already checked in" in second.json()["error"]


def test_the_calendar_shows_checked_in_and_in_treatment(client, session, aesthetician):
    client.force_login(aesthetician)
    booking.session_check_in(session=session, by=aesthetician)
    week = {"start": "2027-03-01", "end": "2027-03-08"}
    (event,) = client.get(reverse("calendar-events"), week).json()
    assert event["extendedProps"]["status"] == "Checked in"
    assert event["extendedProps"]["actions"] == ["start", "cancel"]
    panel = client.get(reverse("session-panel", args=[session.pk]), {"fragment": 1}).content.decode()
    assert "Checked in" in panel and 'id="session-arrival"' in panel
    assert f'action="{reverse("session-start", args=[session.pk])}"' in panel
    record_check(session, by=aesthetician)
    booking.session_start(session=session, by=aesthetician)
    (event,) = client.get(reverse("calendar-events"), week).json()
    assert event["extendedProps"]["status"] == "In treatment"


def test_a_check_in_for_another_day_is_refused_clearly_and_changes_nothing(client, clinic, aesthetician):
    plan = plan_to_book(first_target=MON + dt.timedelta(days=7), count=1)
    s = booking.session_book(
        session=plan.sessions.get(), starts_at=at(MON + dt.timedelta(days=7), 9), practitioner=clinic["ana"]
    )
    client.force_login(aesthetician)
    response = client.post(reverse("session-check-in", args=[s.pk]), HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and "check in on its day" in response.json()["error"]
    assert fresh(s).checked_in_at is None


def test_the_check_form_returns_to_where_check_in_came_from_even_with_a_query(client, session, aesthetician):
    client.force_login(aesthetician)
    back = f"{reverse('calendar')}?view=resourceTimeGridDay&date=2027-03-01"
    response = client.post(reverse("session-check-in", args=[session.pk]), {"next": back})
    form = client.get(response.url)
    assert form.context["next"] == back
    answers = {f"{code}": "no" for code in form.context["form"].fields if not code.endswith("_detail")}
    saved = client.post(response.url, {**answers, "next": back})
    assert saved.status_code == 302 and saved.url == back
    assert models.PreSessionCheck.objects.filter(session=session).exists()
