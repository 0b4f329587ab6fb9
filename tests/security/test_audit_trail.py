"""Who changed what and when: every change to clients, screening, plans, sessions and protocols is kept."""

import pytest
from django.contrib.auth import get_user_model
from simple_history.models import registered_models

from plans import models
from tests.factories import ClientFactory, PractitionerFactory, ProtocolFactory

pytestmark = pytest.mark.django_db

AUDITED = {
    "Client",
    "Screening",
    "ScreeningAnswer",
    "TreatmentPlan",
    "PlanSession",
    "Protocol",
    "ContraindicationRule",
    "CombinationTreatment",
    "CareNote",
    "ReminderLead",
    "Practitioner",
}


def test_the_clinical_and_protocol_models_keep_their_history():
    history_of = {model.__name__ for model in registered_models.values() if model._meta.app_label == "plans"}
    assert history_of >= AUDITED


@pytest.mark.urls("tests.security.urls")
def test_a_change_made_in_a_request_records_the_user_the_time_and_the_difference(client, aesthetician):
    record = ClientFactory(notes="first visit")
    client.force_login(aesthetician)
    assert client.post(f"/test/clients/{record.pk}/touch/", {"notes": "second visit"}).status_code == 200
    newest, oldest = record.history.all()[:2]
    assert newest.history_user == aesthetician and newest.history_type == "~"
    (change,) = newest.diff_against(oldest).changes
    assert (change.field, change.old, change.new) == ("notes", "first visit", "second visit")


def test_deleting_a_row_is_recorded_too():
    record = ClientFactory()
    pk = record.pk
    record.delete()
    assert models.Client.history.filter(id=pk).values_list("history_type", flat=True)[0] == "-"


def test_the_calendar_feed_secret_is_not_copied_into_the_history():
    practitioner = PractitionerFactory(user=get_user_model().objects.create(username="pat"))
    version = practitioner.history.get()
    assert not hasattr(version, "feed_token")


@pytest.mark.urls("tests.security.urls")
def test_a_clinic_admin_sees_who_changed_a_protocol_in_the_admin_history(client, clinic_admin, aesthetician):
    protocol = ProtocolFactory(name="Acne scars")
    protocol._history_user = clinic_admin
    protocol.session_count, protocol.depth_schedule = 4, [0.5, 0.75, 1.0, 1.0]
    protocol.save()
    client.force_login(clinic_admin)
    page = client.get(f"/test-admin/plans/protocol/{protocol.pk}/history/")
    assert page.status_code == 200
    assert "maria" in page.text and "Session count" in page.text
    client.force_login(aesthetician)  # not staff: no admin, no history
    assert client.get(f"/test-admin/plans/protocol/{protocol.pk}/history/").status_code == 302
