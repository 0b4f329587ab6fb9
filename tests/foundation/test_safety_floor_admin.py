"""The clinic admin meets the safety floor in the admin: which limit, and why; screenings are read-only."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from plans import models
from plans.services import clients
from tests.factories import ClientFactory
from tests.helpers.forms import ADD_URL, errors_of, form_data, form_from_page, full_form, rule


@pytest.fixture
def admin_client(client, clinic_admin, default_protocols):
    client.force_login(clinic_admin)
    return client


def test_a_cap_of_three_mm_is_refused_with_the_limit_and_its_reason(admin_client):
    data = full_form()
    data.update({"depth_cap_mm": "3.0"})

    messages = errors_of(admin_client.post(ADD_URL, data))

    assert any("Maximum depth 1.5 mm" in m and "SkinPen instructions for use" in m for m in messages)


def test_a_recorded_exception_allows_a_deeper_cap_and_is_audited(admin_client, clinic_admin):
    response = admin_client.post(
        reverse("admin:plans_safetyexception_add"),
        {"max_depth_mm": "2.0", "reason": "Scar clinic: device cleared to 2.0 mm", "active": "on"},
    )
    assert response.status_code == 302
    exception = models.SafetyException.objects.get()
    assert exception.created_by == clinic_admin and exception.history.count() == 1

    data = full_form()
    data.update({"depth_cap_mm": "2.0", "depth_schedule": "0.5, 1.0, 2.0"})
    response = admin_client.post(ADD_URL, data)

    assert response.status_code == 302, errors_of(response)
    assert models.Protocol.objects.get(code="gentle-three").depth_cap_mm == Decimal("2.0")


def test_a_protocol_for_dark_skin_needs_the_lower_cap_a_pih_check_and_priming(admin_client):
    data = full_form()
    data.update({"fitzpatrick_min": "4", "fitzpatrick_max": "6"})

    messages = errors_of(admin_client.post(ADD_URL, data))

    assert any("Fitzpatrick IV–VI cap 1 mm" in m and "PIH risk" in m for m in messages)
    assert any("PIH check" in m for m in messages) and any("priming" in m for m in messages)
    assert not models.Protocol.objects.filter(code="gentle-three").exists()


def test_the_pregnancy_rule_cannot_become_a_review(admin_client, default_protocols):
    protocol = default_protocols["p1-mild-i-iii"]
    url = reverse("admin:plans_protocol_change", args=[protocol.pk])
    data = form_from_page(admin_client.get(url))
    pregnancy = models.ScreeningQuestion.objects.get(code="pregnant_or_nursing")
    index = next(
        key.split("-")[1]
        for key, value in data.items()
        if key.startswith("contraindications-") and key.endswith("-question") and value == str(pregnancy.pk)
    )
    data[f"contraindications-{index}-action"] = "review"

    messages = errors_of(admin_client.post(url, data))

    assert any("must stay a hard stop" in m for m in messages)
    assert protocol.contraindications.get(question=pregnancy).action == "hard_stop"


def test_a_new_protocol_cannot_make_isotretinoin_now_a_deferral(admin_client):
    data = form_data(contraindications=[rule("isotretinoin_current", "review")])

    assert any("must stay a hard stop" in m for m in errors_of(admin_client.post(ADD_URL, data)))


def test_a_saved_screening_is_read_only_in_the_admin(admin_client, aesthetician):
    """Reproduced: the pregnancy answer was changed from yes to no here, credited to the original screener."""
    person = ClientFactory()
    codes = models.ScreeningQuestion.objects.filter(active=True).values_list("code", flat=True)
    answers = {code: (False, None) for code in codes}
    answers["pregnant_or_nursing"] = (True, None)
    screening = clients.screening_record(client=person, answers=answers, screened_by=aesthetician)
    answer = screening.answers.get(question__code="pregnant_or_nursing")
    url = reverse("admin:plans_screening_change", args=[screening.pk])

    page = admin_client.get(url)
    response = admin_client.post(
        url,
        {
            "answers-TOTAL_FORMS": "1",
            "answers-INITIAL_FORMS": "1",
            "answers-0-id": str(answer.pk),
            "answers-0-screening": str(screening.pk),
            "answers-0-question": str(answer.question_id),
        },
    )

    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert response.status_code == 403
    assert models.ScreeningAnswer.objects.get(pk=answer.pk).answer is True
