"""Erasure after admin edits: no table, log or history keeps the client's name, email or phone."""

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.urls import reverse

from plans import models
from plans.services import privacy
from tests.helpers import world as world_data
from tests.helpers.forms import form_from_page

pytestmark = pytest.mark.django_db

NAME, SURNAME, EMAIL, PHONE = "Zoe", "Quinn", "zoe.quinn@example.com", "07700 900456"


def every_stored_text() -> dict[str, str]:
    """Each table in the database (models or not) as one string, for a plain substring search."""
    dumps = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - names from the schema
            dumps[table] = "\n".join(" | ".join(str(value) for value in row) for row in cursor.fetchall())
    return dumps


def where(texts: list[str]) -> list[str]:
    return [f"{table}: {text!r}" for table, dump in every_stored_text().items() for text in texts if text in dump]


@pytest.fixture
def edited_in_the_admin(world, clinic_admin, client):
    """The clinic admin changes the client's phone and notes through the admin's forms (screenings are read-only)."""
    client.force_login(clinic_admin)
    url = reverse("admin:plans_client_change", args=[world.client.pk])
    data = {**form_from_page(client.get(url)), "phone": PHONE, "notes": f"{NAME} prefers mornings"}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    url = reverse("admin:plans_screening_change", args=[world.screening.pk])
    assert client.post(url, {"notes": f"Spoke to {SURNAME}"}).status_code == 403
    assert LogEntry.objects.filter(object_repr__contains=SURNAME).count() >= 1
    return world


def test_the_export_includes_the_admin_change_log(edited_in_the_admin, clinic_admin):
    log = privacy.client_export(client=edited_in_the_admin.client, by=clinic_admin)["admin_log"]
    assert {(entry["object_type"], entry["action"]) for entry in log} >= {("client", "changed")}
    assert any(SURNAME in entry["object"] for entry in log)
    assert all(entry["by"] == "maria" for entry in log)


def test_the_export_page_lists_the_admin_change_log(edited_in_the_admin, clinic_admin, client):
    page = client.get(reverse("client-export", kwargs={"client_id": edited_in_the_admin.client.pk})).content.decode()
    assert "Changes made in the Django admin" in page and f"{NAME} {SURNAME}" in page


def test_after_admin_edits_erasure_leaves_the_name_email_and_phone_in_no_table(edited_in_the_admin, clinic_admin):
    world = edited_in_the_admin
    assert where([SURNAME, EMAIL, PHONE]), "the search must find the client before erasure"
    privacy.client_erase(client=world.client, by=clinic_admin, reason="Written request of 3 Nov 2026")
    assert not where([NAME, SURNAME, EMAIL, PHONE, "Nervous of needles", "prefers mornings"])
    # The change log still says that something was changed, and when, by whom.
    entries = LogEntry.objects.filter(object_id=str(world.client.pk), content_type__model="client")
    assert entries.exists() and all(e.object_repr == f"Erased client #{world.client.pk}" for e in entries)
    assert models.Client.objects.get(pk=world.client.pk).erased_at is not None


def test_an_erasure_reason_naming_the_client_is_refused_as_it_would_outlive_the_erasure(world, clinic_admin):
    for reason in ("Zoe Quinn asked by phone", "email from ZOE.QUINN@example.com"):
        with pytest.raises(privacy.ErasureRefused, match="without the client's name"):
            privacy.client_erase(client=world.client, by=clinic_admin, reason=reason)
    assert models.Client.objects.get(pk=world.client.pk).erased_at is None


def test_a_reason_that_only_contains_the_name_inside_another_word_is_accepted(world, clinic_admin):
    world.client.first_name = "Ann"
    world.client.save()
    privacy.client_erase(client=world.client, by=clinic_admin, reason="Annual clean-up, written request of 3 Nov")


def test_erasure_blanks_the_treatment_record_and_adverse_events_everywhere_and_keeps_the_lot_trail(
    world, completed_plan, clinic_admin
):
    texts = [world_data.IMMEDIATE_REACTION, world_data.ADVERSE_EVENT]
    assert all(where([text]) for text in texts), "the search must find the record's texts before erasure"
    privacy.client_erase(client=world.client, by=clinic_admin, reason="Written request of 3 Nov 2026")
    assert not where(texts), "free text of the treatment record or an adverse event outlived the erasure"
    record = models.TreatmentRecord.objects.get(session__plan=completed_plan)
    # What a recall needs stays: the lot, the zones' depths, the session and its date.
    assert record.cartridge == world.lot and record.zones.count() == 1
    assert models.AdverseEvent.objects.get(pk=world.event.pk).description == "(erased)"
