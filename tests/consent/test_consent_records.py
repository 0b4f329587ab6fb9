"""Consent as a record: versions that never change, signatures that keep the exact text they signed,
a signature image that must be real, and the photo guard a future photo upload asks."""

import base64
import datetime as dt
import json

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from plans import selectors
from plans.models import (
    ConsentImmutable,
    ConsentKind,
    ConsentTemplate,
    ConsentVersion,
    PhotoUse,
    SignedConsent,
)
from plans.services import consent as consent_services
from tests.factories import ClientFactory
from tests.helpers.consent import data_url, sign_in_clinic, signature_png

pytestmark = pytest.mark.django_db


def _treatment() -> ConsentTemplate:
    return ConsentTemplate.objects.get(kind=ConsentKind.TREATMENT)


def test_the_shipped_treatment_consent_names_the_risks_and_the_off_label_use_for_pores():
    body = _treatment().current_version.body
    for risk in ("hyperpigmentation", "Infection", "Cold-sore reactivation", "off-label"):
        assert risk in body
    photo = ConsentTemplate.objects.get(kind=ConsentKind.PHOTO).current_version.body
    for use in ("Clinical record", "Anonymised teaching", "Marketing"):
        assert use in photo


def test_an_old_signature_keeps_v1s_text_and_hash_after_the_form_is_edited(client, aesthetician):
    zoe = ClientFactory(treatment_consent=False)
    v1 = _treatment().current_version
    signed = sign_in_clinic(zoe, aesthetician)
    assert signed.version == v1 and f"{v1.title}\n\n{v1.body.strip()}" in signed.text
    assert signed.text_sha256 == consent_services.text_sha256(signed.text)
    v1_text, v1_hash = signed.text, signed.text_sha256

    v2 = consent_services.consent_template_revise(
        template=_treatment(),
        title=v1.title,
        body=v1.body + "\nNew paragraph about LED after needling.",
        by=aesthetician,
    )
    assert v2.number == v1.number + 1 and _treatment().current_version == v2

    signed.refresh_from_db()
    assert (signed.version_id, signed.text, signed.text_sha256) == (v1.pk, v1_text, v1_hash)
    client.force_login(aesthetician)
    page = client.get(reverse("consent-detail", args=[signed.pk])).content.decode()
    assert v1_hash in page and "version 1" in page and "LED after needling" not in page

    newer = sign_in_clinic(zoe, aesthetician)
    assert newer.version == v2 and "LED after needling" in newer.text and newer.text_sha256 != v1_hash


def test_saving_the_same_text_again_makes_no_new_version(aesthetician):
    v1 = _treatment().current_version
    again = consent_services.consent_template_revise(template=_treatment(), title=v1.title, body=v1.body, by=None)
    assert again == v1 and ConsentVersion.objects.filter(template=_treatment()).count() == 1


def test_a_version_and_a_signature_refuse_changes_in_the_model_and_in_the_database(aesthetician):
    signed = sign_in_clinic(ClientFactory(treatment_consent=False), aesthetician)
    version = signed.version
    version.body = "Rewritten"
    with pytest.raises(ConsentImmutable):
        version.save()
    signed.text = "Something else"
    with pytest.raises(ConsentImmutable):
        signed.save()
    # Whatever path bypasses the models (a bulk update, raw SQL), the database itself refuses.
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentVersion.objects.filter(pk=version.pk).update(body="Rewritten")
    with pytest.raises(IntegrityError), transaction.atomic():
        SignedConsent.objects.filter(pk=signed.pk).update(text="Something else")
    assert ConsentVersion.objects.get(pk=version.pk).body != "Rewritten"


def test_the_admin_saves_an_edit_as_a_new_version_and_shows_old_ones_read_only(client, clinic_admin):
    template = _treatment()
    v1 = template.current_version
    client.force_login(clinic_admin)
    url = reverse("admin:plans_consenttemplate_change", args=[template.pk])
    page = client.get(url).content.decode()
    assert "Cold-sore reactivation" in page
    response = client.post(url, {"name": template.name, "title": v1.title, "body": v1.body + "\nEdited.", **_inline()})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert template.current_version.number == 2 and ConsentVersion.objects.get(pk=v1.pk).body == v1.body
    version_page = client.get(reverse("admin:plans_consentversion_change", args=[v1.pk])).content.decode()
    assert 'name="body"' not in version_page  # read-only: shown, not editable


def test_the_admin_refuses_a_blank_text_with_a_message_and_makes_no_version(client, clinic_admin):
    template = _treatment()
    client.force_login(clinic_admin)
    url = reverse("admin:plans_consenttemplate_change", args=[template.pk])
    response = client.post(url, {"name": template.name, "title": "Consent", "body": "   ", **_inline()})
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert template.versions.count() == 1


def _inline() -> dict:
    return {
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
    }


@pytest.mark.parametrize(
    ("png", "why"),
    [
        (b"GIF89a not a png at all", "PNG"),
        (signature_png(ink=False), "empty"),
        (signature_png(20, 20), "size"),
        (signature_png()[:-30], "damaged"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * (consent_services.MAX_SIGNATURE_BYTES + 1), "too large"),
    ],
)
def test_a_signature_must_be_a_real_non_empty_png_of_bounded_size(aesthetician, png, why):
    zoe = ClientFactory(treatment_consent=False)
    version = consent_services.current_version(ConsentKind.TREATMENT)
    with pytest.raises(consent_services.ConsentRefused, match=why):
        consent_services.consent_sign_in_clinic(
            client=zoe, kind=ConsentKind.TREATMENT, version_id=version.pk, signature_png=png, witness=aesthetician
        )
    assert not SignedConsent.objects.filter(client=zoe).exists()


def test_a_signature_data_url_that_is_not_a_png_is_refused():
    for value in ("", "data:image/jpeg;base64,AAAA", "data:image/png;base64,***"):
        with pytest.raises(consent_services.ConsentRefused):
            consent_services.signature_from_data_url(value)
    assert consent_services.signature_from_data_url(data_url(signature_png())) == signature_png()


def test_a_form_edited_while_the_client_reads_it_is_not_signed(aesthetician):
    zoe = ClientFactory(treatment_consent=False)
    read = consent_services.current_version(ConsentKind.TREATMENT)
    consent_services.consent_template_revise(template=_treatment(), title=read.title, body=read.body + " Edited.")
    with pytest.raises(consent_services.ConsentRefused) as refused:
        consent_services.consent_sign_in_clinic(
            client=zoe, kind="treatment", version_id=read.pk, signature_png=signature_png(), witness=aesthetician
        )
    assert refused.value.code == "version_changed" and not zoe.consents.exists()


def test_signing_on_the_tablet_records_the_witness_address_and_browser(client, aesthetician):
    zoe = ClientFactory(treatment_consent=False)
    client.force_login(aesthetician)
    url = reverse("consent-sign", args=[zoe.pk, "treatment"])
    page = client.get(url).content.decode()
    assert 'id="signature-pad"' in page and "Cold-sore reactivation" in page
    version = consent_services.current_version("treatment")
    response = client.post(
        url,
        {"version_id": version.pk, "signature": data_url(signature_png()), "has_read": "on"},
        HTTP_USER_AGENT="Tablet browser 1.0",
        REMOTE_ADDR="192.0.2.44",
    )
    assert response.status_code == 302
    signed = zoe.consents.get()
    assert (signed.witness, signed.via, signed.ip_address, signed.user_agent) == (
        aesthetician,
        "clinic",
        "192.0.2.44",
        "Tablet browser 1.0",
    )
    assert bytes(signed.signature_png) == signature_png()


def test_a_blank_signature_on_the_tablet_is_refused_with_a_message_and_saves_nothing(client, aesthetician):
    zoe = ClientFactory(treatment_consent=False)
    client.force_login(aesthetician)
    version = consent_services.current_version("treatment")
    response = client.post(
        reverse("consent-sign", args=[zoe.pk, "treatment"]),
        {"version_id": version.pk, "signature": data_url(signature_png(ink=False)), "has_read": "on"},
    )
    assert response.status_code == 400 and "empty" in response.content.decode()
    assert not zoe.consents.exists()


def test_the_pdf_of_a_signed_consent_is_a_pdf_with_the_hash(client, aesthetician):
    signed = sign_in_clinic(ClientFactory(treatment_consent=False), aesthetician)
    client.force_login(aesthetician)
    response = client.get(reverse("consent-pdf", args=[signed.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-") and len(response.content) > 5000


# --- The photo guard (photos arrive with issue 18) ---------------------------------------------


def test_photos_are_allowed_only_for_the_uses_a_photo_consent_in_force_opted_into(aesthetician):
    zoe = ClientFactory()
    assert not selectors.photo_consent_allows(client=zoe, use=PhotoUse.CLINICAL_RECORD)  # none signed

    first = sign_in_clinic(zoe, aesthetician, kind="photo", photo_uses=[PhotoUse.CLINICAL_RECORD, PhotoUse.TEACHING])
    assert "[x] Clinical record" in first.text and "[ ] Marketing" in first.text
    assert selectors.photo_consent_allows(client=zoe, use=PhotoUse.CLINICAL_RECORD)
    assert selectors.photo_consent_allows(client=zoe, use=PhotoUse.TEACHING)
    assert not selectors.photo_consent_allows(client=zoe, use=PhotoUse.MARKETING)

    # A newer consent replaces the choices: teaching was taken back.
    sign_in_clinic(
        zoe, aesthetician, kind="photo", photo_uses=[PhotoUse.CLINICAL_RECORD], now=first.signed_at + dt.timedelta(1)
    )
    assert not selectors.photo_consent_allows(client=zoe, use=PhotoUse.TEACHING)

    consent_services.consent_withdraw(
        consent=SignedConsent.objects.current(client_id=zoe.pk, kind="photo"), by=aesthetician, reason="By email"
    )
    assert not selectors.photo_consent_allows(client=zoe, use=PhotoUse.CLINICAL_RECORD)


def test_an_unknown_photo_use_is_refused(aesthetician):
    zoe = ClientFactory()
    version = consent_services.current_version("photo")
    with pytest.raises(consent_services.ConsentRefused, match="Unknown photo use"):
        consent_services.consent_sign_in_clinic(
            client=zoe,
            kind="photo",
            version_id=version.pk,
            signature_png=signature_png(),
            witness=aesthetician,
            photo_uses=["billboards"],
        )


# --- The client's data rights ----------------------------------------------------------------------


def test_the_export_holds_each_signature_with_its_text_and_image_and_erasure_removes_them(aesthetician, clinic_admin):
    from plans.services import privacy

    zoe = ClientFactory(treatment_consent=False)
    signed = sign_in_clinic(zoe, aesthetician)
    consent_services.consent_withdraw(consent=signed, by=aesthetician, reason="By phone")
    exported = privacy.client_export(client=zoe, by=clinic_admin)
    (record,) = exported["client"]["consents"]
    assert record["text_sha256"] == signed.text_sha256 and record["withdrawal"][0]["reason"] == "By phone"
    assert base64.b64decode(record["signature_png"]) == signature_png()
    json.dumps(exported)  # the download is JSON: bytes must not break it

    privacy.client_erase(client=zoe, by=clinic_admin, reason="Written request of 3 May")
    assert not SignedConsent.objects.filter(client=zoe).exists()
    assert ConsentVersion.objects.filter(pk=signed.version_id).exists()  # the form stays
