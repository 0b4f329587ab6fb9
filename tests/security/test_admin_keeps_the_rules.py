"""The admin keeps every rule the services keep: it validates with the same functions and saves through them."""

import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from plans import models
from plans.services import clients
from tests.factories import ClientFactory
from tests.helpers.forms import form_from_page, intake

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, clinic_admin):
    client.force_login(clinic_admin)
    return client


def years_ago(years: int) -> str:
    today = timezone.localdate()
    return today.replace(year=today.year - years, day=min(today.day, 28)).isoformat()


def admin_client_form(admin_client, **values) -> dict:
    page = admin_client.get(reverse("admin:plans_client_add"))
    base = {
        **form_from_page(page),
        "first_name": "Rosa",
        "last_name": "Lopes",
        "email": "rosa@example.com",
        "phone": "+44 7700 900111",
        "date_of_birth": "1988-04-02",
        "fitzpatrick": "3",
        "oiliness": "combination",
        "pore_concern": "moderate",
    }
    return {**base, **values}


def admin_errors(response) -> str:
    assert response.status_code == 200, f"expected the form back with errors, got {response.status_code}"
    return " ".join(str(e) for e in response.context["adminform"].form.errors.values())


# --- Clients --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "message"),
    [
        (years_ago(12), "the clinic treats clients aged 18 or over"),
        ("0001-01-01", "check the year of birth"),
        ("9999-12-31", "in the future"),
    ],
)
def test_a_client_the_service_refuses_for_age_is_refused_by_the_admin_too(admin_client, born, message):
    response = admin_client.post(reverse("admin:plans_client_add"), admin_client_form(admin_client, date_of_birth=born))
    assert message in admin_errors(response)
    assert not models.Client.objects.exists()
    with pytest.raises(ValidationError, match=message):
        clients.client_create(**{**_service_values(), "date_of_birth": dt.date.fromisoformat(born)})


def _service_values(**changes) -> dict:
    return {
        "first_name": "Rosa",
        "last_name": "Lopes",
        "email": "rosa@example.com",
        "date_of_birth": dt.date(1988, 4, 2),
        "fitzpatrick": 3,
        "oiliness": "combination",
        "pore_concern": "moderate",
        **changes,
    }


def test_a_client_added_in_the_admin_is_saved_by_the_service_with_history(admin_client, clinic_admin):
    response = admin_client.post(
        reverse("admin:plans_client_add"), admin_client_form(admin_client, first_name="\u202eRosa\u200b")
    )
    assert response.status_code == 302
    person = models.Client.objects.get()
    assert person.first_name == "Rosa"
    assert person.history.get().history_user == clinic_admin


def test_a_client_changed_in_the_admin_keeps_the_age_rule(admin_client):
    person = ClientFactory()
    url = reverse("admin:plans_client_change", args=[person.pk])
    response = admin_client.post(url, {**form_from_page(admin_client.get(url)), "date_of_birth": years_ago(12)})
    assert "18 or over" in admin_errors(response)
    person.refresh_from_db()
    assert person.date_of_birth == dt.date(1990, 5, 17)


@pytest.mark.parametrize("name", ["Ro\nsa", "Ro\rsa", "Ro\tsa", "Ro\x00sa", "Ro\x1bsa", "Ro\u2028sa"])
def test_a_name_with_a_line_break_or_control_character_is_refused_everywhere(admin_client, staff, protocol, name):
    response = admin_client.post(reverse("admin:plans_client_add"), admin_client_form(admin_client, last_name=name))
    assert admin_errors(response)
    response = staff.post(reverse("client-create"), intake(last_name=name))
    assert response.status_code == 200 and response.context["form"].errors["last_name"]
    with pytest.raises(ValidationError):
        clients.client_create(**_service_values(last_name=name))
    assert not models.Client.objects.exists()


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("\u202eanna", "anna"),
        ("Ann\u200ba", "Anna"),
        ("\ufeffAnna\u2066", "Anna"),
        ("\u200dAnna\u200c", "Anna"),
        ("\u0645\u200c\u0631", "\u0645\u200c\u0631"),  # a joiner between letters stays (Persian spelling)
        ("Zoe\u0301", "Zoé"),  # composed the same way however it was typed
    ],
)
def test_invisible_direction_and_zero_width_characters_are_stripped_in_one_place(staff, protocol, typed, stored):
    assert clients.clean_name(typed) == stored
    response = staff.post(reverse("client-create"), intake(first_name=typed))
    assert response.status_code == 302
    assert models.Client.objects.get().first_name == stored
    assert clients.client_create(**_service_values(first_name=typed, email="")).first_name == stored


@pytest.fixture
def staff(client, aesthetician):
    from django.test import Client

    other = Client()
    other.force_login(aesthetician)
    return other


def test_a_second_client_with_the_same_email_in_other_capitals_is_refused_with_a_link(admin_client, staff, protocol):
    first = ClientFactory(first_name="Rosa", last_name="Lopes", email="rosa@example.com")
    response = staff.post(reverse("client-create"), intake(email="ROSA@Example.com"))
    assert response.status_code == 200
    page = response.content.decode()
    assert f'href="{reverse("client-detail", args=[first.pk])}"' in page and "already belongs to" in page
    response = admin_client.post(
        reverse("admin:plans_client_add"), admin_client_form(admin_client, email=" Rosa@example.COM")
    )
    assert "already belongs to" in admin_errors(response)
    assert reverse("admin:plans_client_change", args=[first.pk]) in response.content.decode()
    with pytest.raises(ValidationError, match="already uses this email"):
        clients.client_create(**_service_values(email="rosa@EXAMPLE.com"))
    assert models.Client.objects.count() == 1
    # Editing the client itself keeps its own email; an empty email is never a duplicate.
    clients.client_update(client=first, email="Rosa@example.com")
    ClientFactory(email="")
    clients.client_create(**_service_values(email=""))


def test_notes_of_100000_characters_are_refused_by_form_admin_and_service(admin_client, staff, protocol):
    long = "x" * 100_000
    response = staff.post(reverse("client-create"), intake(notes=long))
    assert response.status_code == 200 and "at most 5,000 characters" in str(response.context["form"].errors)
    response = admin_client.post(reverse("admin:plans_client_add"), admin_client_form(admin_client, notes=long))
    assert "at most 5,000 characters" in admin_errors(response)
    with pytest.raises(ValidationError, match="at most 5,000"):
        clients.client_create(**_service_values(notes=long))
    assert not models.Client.objects.exists()


# --- Screenings -------------------------------------------------------------------------------------


def test_screenings_are_neither_added_nor_redated_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:plans_screening_add")).status_code == 403
    screening = models.Screening.objects.create(client=ClientFactory())
    url = reverse("admin:plans_screening_change", args=[screening.pk])
    for day in ("9999-12-31", "0001-01-01"):
        # A screening is a record: the admin only shows it (corrections are new screenings).
        assert admin_client.post(url, {**form_from_page(admin_client.get(url)), "screened_on": day}).status_code == 403
    screening.refresh_from_db()
    assert screening.screened_on == timezone.localdate()


# --- Closures ---------------------------------------------------------------------------------------


def closure_form(starts: str, ends: str, **extra) -> dict:
    return {"starts_at_0": starts, "starts_at_1": "00:00", "ends_at_0": ends, "ends_at_1": "00:00", "reason": "x"}


@pytest.mark.parametrize(
    ("starts", "ends", "field"),
    [
        ("0001-01-01", "9999-12-31", "starts_at"),
        ("2026-12-20", "9999-12-31", "ends_at"),
        ("2026-12-20", "2028-12-20", "ends_at"),  # longer than a year
        ("2045-01-01", "2045-01-02", "starts_at"),  # decades ahead
    ],
)
def test_a_closure_is_bounded_in_time_and_length(admin_client, starts, ends, field):
    response = admin_client.post(reverse("admin:plans_timeoff_add"), closure_form(starts, ends))
    assert response.context["adminform"].form.errors[field]
    assert not models.TimeOff.objects.exists()


def test_a_sensible_closure_is_saved_through_the_service(admin_client):
    start = timezone.localdate() + dt.timedelta(days=10)
    response = admin_client.post(
        reverse("admin:plans_timeoff_add"), closure_form(start.isoformat(), (start + dt.timedelta(days=3)).isoformat())
    )
    assert response.status_code == 302
    assert models.TimeOff.objects.count() == 1


def test_a_practitioners_time_off_inline_is_bounded_too(admin_client, aesthetician):
    practitioner = aesthetician.practitioner
    url = reverse("admin:plans_practitioner_change", args=[practitioner.pk])
    data = form_from_page(admin_client.get(url))
    data.update(
        {
            "time_off-TOTAL_FORMS": "1",
            "time_off-0-starts_at_0": "0001-01-01",
            "time_off-0-starts_at_1": "00:00",
            "time_off-0-ends_at_0": "9999-12-31",
            "time_off-0-ends_at_1": "00:00",
            "time_off-0-reason": "forever",
        }
    )
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert not models.TimeOff.objects.exists()


# --- Demo data ----------------------------------------------------------------------------------------


def test_load_demo_writes_through_the_services_with_history_for_screening_answers(db):
    call_command("load_demo", stdout=io.StringIO())
    answers = models.ScreeningAnswer.objects.all()
    assert answers.exists()
    assert models.ScreeningAnswer.history.filter(history_type="+").count() == answers.count()
    assert models.Client.history.filter(history_type="+").count() == models.Client.objects.count()
    call_command("load_demo", stdout=io.StringIO())  # still idempotent
    assert models.ScreeningAnswer.objects.count() == answers.count()
