"""The treatment record: signing it off is what completes a microneedling session; each zone is
held to its cap and to the session's planned depth unless a clinician gives a reason; an expired
or recalled lot is refused; after sign-off a correction is an addendum, never an edit."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from plans import models, selectors
from plans.models import ClinicalRule, RecordImmutable, SessionStatus
from plans.services import booking, privacy, records
from tests.factories import LotFactory
from tests.helpers.records import complete, kit, record_input, record_post
from tests.helpers.safety import mn, record_check

pytestmark = pytest.mark.django_db
JSON = {"HTTP_ACCEPT": "application/json"}
D = Decimal


@pytest.fixture
def under_way(booked_plan, aesthetician, frozen_clock):
    """Factory: session k of a booked P1 plan (nose and forehead capped at 0.5 mm, cheeks 1.5 mm),
    half an hour in, its pre-session check recorded; the sessions before it done."""

    def make(k: int = 1):
        plan = booked_plan()
        for done in range(1, k):
            session = mn(plan, done)
            frozen_clock.move_to(session.starts_at + dt.timedelta(minutes=30))
            record_check(session, by=aesthetician)
            complete(session, str(session.depth_mm), by=aesthetician)
        session = mn(plan, k)
        frozen_clock.move_to(session.starts_at + dt.timedelta(minutes=30))
        record_check(session, by=aesthetician)
        return session

    return make


def _code(refused) -> str:
    return refused.value.code


def test_signing_off_completes_the_session_with_every_zone_and_the_deepest_as_depth_used(under_way, aesthetician):
    s1 = under_way()
    assert [zone for zone, _cap in booking.record_zones(s1)] == ["nose", "forehead", "cheeks"]
    zones = {"nose": D("0.25"), "forehead": D("0.5"), "cheeks": D("0.5")}
    product = LotFactory(kind=models.LotKind.PRODUCT)

    done = complete(
        s1,
        by=aesthetician,
        zones=zones,
        record_fields={"product": product, "anaesthetic": "Lidocaine 5%", "anaesthetic_minutes": 30},
    )

    assert done.status == SessionStatus.COMPLETED and done.depth_used_mm == D("0.5")
    record = models.TreatmentRecord.objects.get(session=s1)
    assert {z.zone: z.depth_mm for z in record.zones.all()} == zones
    assert record.signed_by == aesthetician and record.product == product and record.anaesthetic_minutes == 30


def test_without_a_record_a_microneedling_session_cannot_be_completed(under_way, aesthetician):
    s1 = under_way()
    with pytest.raises(booking.BookingError) as refused:
        booking.session_complete(session=s1, by=aesthetician)
    assert _code(refused) == "needs_record"
    s1.refresh_from_db()
    assert s1.status == SessionStatus.BOOKED


@pytest.mark.parametrize(
    ("zones", "why"),
    [
        ({"nose": D("0"), "cheeks": D("0.5")}, "above 0 mm"),
        ({"chin": D("0.5")}, "no zone chin"),
        ({}, "at least one zone"),
        ({"cheeks": D("2.0")}, "above the protocol's cap of 1.5 mm"),
    ],
)
def test_a_record_the_rules_refuse_changes_nothing(under_way, clinician, zones, why):
    s1 = under_way()
    with pytest.raises(booking.BookingError, match=why):
        booking.session_complete(session=s1, record=record_input(s1, zones=zones), above_plan_reason="x", by=clinician)
    assert not models.TreatmentRecord.objects.exists()
    s1.refresh_from_db()
    assert s1.status == SessionStatus.BOOKED and s1.depth_used_mm is None


def test_a_zone_above_its_cap_needs_a_clinicians_reason_recorded_as_a_clinical_override(
    under_way, aesthetician, clinician
):
    s2 = under_way(2)  # planned 0.75 mm: the nose at 0.75 is within the plan but above its 0.5 mm cap
    zones = {"nose": D("0.75"), "cheeks": D("0.75")}
    for by, reason in ((aesthetician, ""), (aesthetician, "thick skin"), (clinician, "")):
        with pytest.raises(booking.BookingError) as refused:
            booking.session_complete(session=s2, record=record_input(s2, zones=zones), above_plan_reason=reason, by=by)
        assert _code(refused) == "needs_clinician" and "nose: 0.75 mm is above its cap of 0.5 mm" in str(refused.value)
    assert not models.ClinicalOverride.objects.exists()

    booking.session_complete(
        session=s2, record=record_input(s2, zones=zones), above_plan_reason="Sebaceous nose, checked", by=clinician
    )
    override = models.ClinicalOverride.objects.get()
    assert (override.rule, override.by, override.reason) == (
        ClinicalRule.ZONE_ABOVE_CAP,
        clinician,
        "Sebaceous nose, checked",
    )


def test_a_zone_above_the_planned_depth_needs_a_clinician_too(under_way, clinician):
    s1 = under_way()  # planned 0.5 mm; the cheeks' cap is 1.5 mm
    booking.session_complete(
        session=s1, record=record_input(s1, zones={"cheeks": D("0.75")}), above_plan_reason="Thick scars", by=clinician
    )
    assert [o.rule for o in models.ClinicalOverride.objects.all()] == [ClinicalRule.DEPTH_ABOVE_PLAN]


def test_zone_caps_over_http_a_clinicians_reason_is_the_only_way_past(under_way, client, aesthetician, clinician):
    s2 = under_way(2)
    url = reverse("session-complete", args=[s2.pk])
    data = record_post(s2, zones={"nose": "0.75", "cheeks": "0.75"}) | {"above_plan_reason": "Sebaceous nose"}
    client.force_login(aesthetician)
    response = client.post(url, data, **JSON)
    assert response.status_code == 400 and response.json()["code"] == "needs_clinician"
    assert "nose" in response.json()["error"]
    client.force_login(clinician)
    response = client.post(url, data, **JSON)
    assert response.status_code == 200, response.json()
    assert models.ClinicalOverride.objects.get().rule == ClinicalRule.ZONE_ABOVE_CAP


def test_the_record_page_keeps_what_was_typed_and_says_why_when_refused(under_way, client, aesthetician):
    s2 = under_way(2)
    client.force_login(aesthetician)
    data = record_post(s2, zones={"nose": "0.75", "cheeks": "0.75"}) | {"from_record": "1", "notes": "Went well"}
    response = client.post(reverse("session-complete", args=[s2.pk]), data)
    page = response.content.decode()
    assert response.status_code == 400
    assert "above its cap of 0.5 mm" in page and 'id="record-form"' in page and "Went well" in page


@pytest.mark.parametrize("state", ["expired", "recalled"])
def test_an_expired_or_recalled_lot_is_refused_and_nothing_is_written(
    under_way, client, aesthetician, clinic_admin, state, frozen_clock
):
    s1 = under_way()
    device, cartridge = kit()
    if state == "expired":
        models.Lot.objects.filter(pk=cartridge.pk).update(expires_on=dt.date(2027, 1, 31))
    else:
        records.lot_recall(lot=cartridge, reason="Maker's notice 2027-01", by=clinic_admin)
    with pytest.raises(booking.BookingError) as refused:
        complete(s1, by=aesthetician)
    assert _code(refused) == "lot_refused" and state in str(refused.value)

    client.force_login(aesthetician)
    response = client.post(reverse("session-complete", args=[s1.pk]), record_post(s1), **JSON)
    assert response.status_code == 400 and response.json()["code"] == "lot_refused"
    s1.refresh_from_db()
    assert s1.status == SessionStatus.BOOKED and not models.TreatmentRecord.objects.exists()
    # The record form does not even offer it.
    page = client.get(reverse("session-record", args=[s1.pk])).content.decode()
    offered = re.search(r'<select name="cartridge".*?</select>', page, re.S)[0]
    assert 'id="record-form"' in page and f'value="{cartridge.pk}"' not in offered


def test_a_device_past_its_service_date_is_flagged_on_the_record(under_way, aesthetician, client):
    s1 = under_way()
    device, _ = kit()
    models.Device.objects.filter(pk=device.pk).update(last_serviced_on=dt.date(2025, 1, 1))
    complete(s1, by=aesthetician)
    assert models.TreatmentRecord.objects.get().device_overdue
    client.force_login(aesthetician)
    assert "data-device-overdue" in client.get(reverse("session-record", args=[s1.pk])).content.decode()


def test_after_sign_off_a_correction_is_an_addendum_and_an_edit_is_refused(under_way, aesthetician, client):
    s1 = under_way()
    complete(s1, by=aesthetician, record_fields={"notes": "Even erythema at 3 passes"})
    record = models.TreatmentRecord.objects.get()

    record.notes = "Changed my mind"
    with pytest.raises(RecordImmutable):
        record.save()
    zone = record.zones.first()
    zone.depth_mm = D("0.25")
    with pytest.raises(RecordImmutable):
        zone.save()
    with pytest.raises(booking.BookingError):  # a second sign-off: the session is already completed
        complete(s1, by=aesthetician)
    with pytest.raises(IntegrityError), transaction.atomic():  # and the database holds one record per session
        models.TreatmentRecord.objects.create(
            session=s1, device=record.device, cartridge=record.cartridge, passes=1, endpoint="erythema",
            signed_by=aesthetician, signed_at=record.signed_at,
        )  # fmt: skip

    client.force_login(aesthetician)
    url = reverse("session-record-addendum", args=[s1.pk])
    assert client.post(url, {"text": "   "}).status_code == 302
    assert not models.RecordAddendum.objects.exists()
    client.post(url, {"text": "Forehead was 0.25 mm, not 0.5 mm"})
    page = client.get(reverse("session-record", args=[s1.pk])).content.decode()
    assert "Forehead was 0.25 mm, not 0.5 mm" in page and "Even erythema at 3 passes" in page
    assert 'id="record-form"' not in page and 'id="addendum-form"' in page
    record.refresh_from_db()
    assert record.notes == "Even erythema at 3 passes"
    assert models.RecordAddendum.objects.get().by == aesthetician


def test_the_record_is_printable_and_in_the_clients_data_export(under_way, aesthetician, clinic_admin, client):
    s1 = under_way()
    complete(s1, by=aesthetician, record_fields={"immediate_reaction": "Wheal on the left cheek"})
    records.record_addendum_add(
        record=models.TreatmentRecord.objects.get(), text="Called the next day", by=aesthetician
    )
    client.force_login(aesthetician)
    page = client.get(reverse("session-record", args=[s1.pk])).content.decode()
    assert "data-print" in page and "js/record.js" in page and 'class="no-print' in page

    exported = str(privacy.client_export(client=s1.plan.client, by=clinic_admin))
    assert "Wheal on the left cheek" in exported and "Called the next day" in exported and "cheeks" in exported


def test_erasure_blanks_the_records_free_text_and_keeps_what_a_recall_needs(under_way, aesthetician, clinic_admin):
    s1 = under_way()
    complete(s1, by=aesthetician, record_fields={"notes": "Client anxious", "immediate_reaction": "Wheal"})
    records.record_addendum_add(record=models.TreatmentRecord.objects.get(), text="Phoned her", by=aesthetician)
    models.PlanSession.objects.filter(plan=s1.plan, status="booked").update(status="cancelled")
    privacy.client_erase(client=s1.plan.client, by=clinic_admin, reason="Written request of 1 Feb 2027")
    record = models.TreatmentRecord.objects.get()
    assert (record.notes, record.immediate_reaction) == ("", "")
    assert models.RecordAddendum.objects.get().text == "(erased)"
    lot = record.cartridge
    assert [r.session_id for r in selectors.lot_treated_clients(lot)] == [s1.pk]
