"""A client's data: every access is logged, the export holds everything, erasure leaves nothing that identifies them."""

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from plans import models
from plans.services import privacy
from tests.factories import ClientFactory
from tests.helpers.world import clinical_plan

pytestmark = pytest.mark.django_db

IDENTIFYING = ["Zoe", "Quinn", "zoe.quinn@example.com", "Nervous of needles", "rash after the last peel"]


def _erase(world, by, reason="Written request of 3 Nov 2026"):
    return privacy.client_erase(client=world.client, by=by, reason=reason)


def test_viewing_a_clinical_record_is_logged_with_who_and_when(world, aesthetician):
    entry = privacy.record_access_log(user=aesthetician, client=world.client, action="view")
    assert (entry.user, entry.client, entry.action) == (aesthetician, world.client, "view")
    assert abs(timezone.now() - entry.at) < dt.timedelta(minutes=1)


def test_an_unknown_access_action_is_refused(world, aesthetician):
    with pytest.raises(ValueError, match="Unknown record access action"):
        privacy.record_access_log(user=aesthetician, client=world.client, action="peek")


def test_the_export_holds_the_client_screening_answers_plans_sessions_and_history(world, clinic_admin):
    data = privacy.client_export(client=world.client, by=clinic_admin)["client"]
    assert (data["first_name"], data["email"], data["notes"]) == ("Zoe", "zoe.quinn@example.com", "Nervous of needles")
    (screening,) = data["screenings"]
    assert screening["notes"] == "Discussed pregnancy" and screening["screened_by"] == "ana"
    (answer,) = screening["answers"]
    assert answer["question"] == "Are you pregnant or breastfeeding?" and answer["answer"] is True
    (plan,) = data["plans"]
    assert plan["warnings"] == ["Recent isotretinoin"]
    (session,) = plan["sessions"]
    assert session["notes"] == "Client mentioned a rash after the last peel." and session["depth_mm"] == "0.50"
    assert data["history"][0]["change"] == "created"
    assert [access["action"] for access in data["record_accesses"]] == ["view", "export"]
    json.dumps(data)  # JSON-ready as it is


def test_exporting_is_recorded_in_the_access_log(world, clinic_admin):
    privacy.client_export(client=world.client, by=clinic_admin)
    assert models.RecordAccess.objects.filter(client=world.client, user=clinic_admin, action="export").count() == 1


def test_the_json_download_names_the_file_by_id_only(world, clinic_admin, client):
    client.force_login(clinic_admin)
    response = client.get(reverse("client-export-json", kwargs={"client_id": world.client.pk}))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="client-{world.client.pk}-data.json"'
    assert "no-store" in response["Cache-Control"]
    assert response.json()["client"]["last_name"] == "Quinn"


def test_the_export_page_shows_the_data_to_a_clinic_admin(world, clinic_admin, client):
    client.force_login(clinic_admin)
    page = client.get(reverse("client-export", kwargs={"client_id": world.client.pk})).content.decode()
    assert "Are you pregnant or breastfeeding?" in page and "zoe.quinn@example.com" in page
    assert "Client mentioned a rash after the last peel." in page


@pytest.mark.parametrize("persona", ["aesthetician", "front_desk"])
def test_export_and_erasure_need_the_clinic_admin_role(world, persona, client, request):
    client.force_login(request.getfixturevalue(persona))
    for name in ("client-export", "client-export-json", "client-erase"):
        assert client.get(reverse(name, kwargs={"client_id": world.client.pk})).status_code == 403
    response = client.post(
        reverse("client-erase", kwargs={"client_id": world.client.pk}), {"reason": "asked", "confirm": "on"}
    )
    assert response.status_code == 403
    world.client.refresh_from_db()
    assert world.client.erased_at is None and world.client.first_name == "Zoe"
    assert not models.RecordAccess.objects.exclude(action="view").exists()


def test_every_model_holding_client_data_has_an_erasure_policy(world):
    missing = [
        model._meta.label
        for model in privacy.client_related_models(world.client)
        if model._meta.label not in privacy.ERASURE_POLICY
    ]
    assert not missing, (
        f"{missing} point at a client but services.privacy.ERASURE_POLICY does not say what erasure does with "
        "them: KEEP, DELETE, or the fields to blank."
    )


def test_erasure_removes_identity_contact_details_and_notes_and_keeps_statistics(world, clinic_admin):
    _erase(world, clinic_admin)
    client = models.Client.objects.get(pk=world.client.pk)
    assert client.full_name == f"Erased client #{client.pk}"
    assert (client.email, client.phone, client.notes, client.email_consent) == ("", "", "", False)
    assert client.date_of_birth == dt.date(1990, 1, 1)
    assert client.erased_at is not None
    # Non-identifying statistics stay.
    assert (client.fitzpatrick, client.oiliness, client.pore_concern) == (2, "normal", "mild")
    assert client.plans.count() == 1 and client.screenings.count() == 1
    session = models.PlanSession.objects.get(plan__client=client)
    assert (session.status, session.target, str(session.depth_mm)) == ("proposed", dt.date(2026, 1, 5), "0.50")


def test_erasure_clears_screening_answers_and_free_text_clinical_notes(world, clinic_admin):
    _erase(world, clinic_admin)
    assert not models.ScreeningAnswer.objects.filter(screening__client=world.client).exists()
    assert models.Screening.objects.get(pk=world.screening.pk).notes == ""
    plan = models.TreatmentPlan.objects.get(pk=world.plan.pk)
    assert (plan.rationale, plan.warnings, plan.review_items) == ([], [], [])
    assert models.PlanSession.objects.get(pk=world.session.pk).notes == ""


def test_after_erasure_no_identifying_data_is_left_anywhere_in_the_database(world, clinic_admin):
    # Earlier versions in the audit history held the same data: change the client once first.
    world.client.notes = "Nervous of needles; prefers mornings"
    world.client.save()
    _erase(world, clinic_admin)
    out = io.StringIO()
    call_command("dumpdata", stdout=out)
    dump = out.getvalue()
    left = [text for text in IDENTIFYING if text in dump]
    assert not left, f"still stored after erasure: {left}"


def test_erasure_leaves_one_history_version_per_row_saying_who_erased_it(world, clinic_admin):
    world.client.phone = "+44 7700 900123"
    world.client.save()
    _erase(world, clinic_admin)
    (version,) = models.Client.history.filter(id=world.client.pk)
    assert (version.history_user, version.history_change_reason) == (clinic_admin, "Personal data erased")
    assert version.first_name == "Erased client"
    assert not models.ScreeningAnswer.history.filter(id=world.answer.pk).exists()
    assert models.PlanSession.history.filter(id=world.session.pk).count() == 1


def test_erasure_is_recorded_in_the_access_log_with_its_reason(world, clinic_admin):
    _erase(world, clinic_admin, reason="Written request of 3 Nov 2026")
    entry = models.RecordAccess.objects.get(client=world.client, action="erase")
    assert (entry.user, entry.reason) == (clinic_admin, "Written request of 3 Nov 2026")
    # The log of earlier accesses survives erasure.
    assert models.RecordAccess.objects.filter(client=world.client, action="view").exists()


def test_erasure_does_not_touch_other_clients(world, clinic_admin):
    other = ClientFactory(first_name="Olive", notes="Keep me")
    _erase(world, clinic_admin)
    other.refresh_from_db()
    assert (other.first_name, other.notes, other.erased_at) == ("Olive", "Keep me", None)


def test_erasure_without_a_reason_is_refused_and_changes_nothing(world, clinic_admin):
    with pytest.raises(privacy.ErasureRefused, match="reason"):
        _erase(world, clinic_admin, reason="   ")
    world.client.refresh_from_db()
    assert world.client.first_name == "Zoe" and world.client.erased_at is None
    assert not models.RecordAccess.objects.filter(action="erase").exists()


def test_a_client_with_upcoming_booked_sessions_cannot_be_erased(world, clinic_admin, aesthetician):
    clinical_plan(
        client=world.client,
        protocol=world.protocol,
        created_by=aesthetician,
        practitioner=world.practitioner,
        booked_at=timezone.now() + dt.timedelta(days=3),
    )
    with pytest.raises(privacy.ErasureRefused, match="1 upcoming booked session"):
        _erase(world, clinic_admin)
    world.client.refresh_from_db()
    assert world.client.first_name == "Zoe"
    assert models.ScreeningAnswer.objects.filter(screening__client=world.client).exists()


def test_a_client_cannot_be_erased_twice(world, clinic_admin):
    _erase(world, clinic_admin)
    with pytest.raises(privacy.ErasureRefused, match="already erased"):
        _erase(world, clinic_admin)
    assert models.RecordAccess.objects.filter(action="erase").count() == 1


def test_the_erase_page_requires_a_reason_and_the_confirmation(world, clinic_admin, client):
    client.force_login(clinic_admin)
    url = reverse("client-erase", kwargs={"client_id": world.client.pk})
    response = client.post(url, {"reason": "", "confirm": ""})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    world.client.refresh_from_db()
    assert world.client.erased_at is None

    response = client.post(url, {"reason": "Written request", "confirm": "on"}, follow=True)
    assert response.redirect_chain[-1][0] == url
    assert f"Client #{world.client.pk} was erased" in response.content.decode()
    world.client.refresh_from_db()
    assert world.client.erased_at is not None


def test_the_erase_page_explains_a_refusal(world, clinic_admin, aesthetician, client):
    clinical_plan(
        client=world.client,
        protocol=world.protocol,
        created_by=aesthetician,
        practitioner=world.practitioner,
        booked_at=timezone.now() + dt.timedelta(days=3),
    )
    client.force_login(clinic_admin)
    url = reverse("client-erase", kwargs={"client_id": world.client.pk})
    response = client.post(url, {"reason": "Written request", "confirm": "on"})
    assert response.status_code == 200
    assert "cancel them first" in response.content.decode()
