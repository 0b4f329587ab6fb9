"""Issue #16 item 4: a screening correction has a page. Reached from the client page by
aesthetician and clinician (never front desk), it shows the current answers pre-filled, needs
a reason, saves a new dated screen (never an edit) and re-checks the client's plans."""

import pytest
from django.urls import reverse

from plans.models import Screening, ScreeningAnswer
from plans.services import safety
from tests.helpers.forms import screening_correction


def _answer(screening, code):
    return ScreeningAnswer.objects.get(screening=screening, question__code=code).answer


@pytest.mark.parametrize("role", ["aesthetician", "clinician"])
def test_clinical_staff_reach_the_correction_from_the_client_page_with_the_answers_pre_filled(
    screened, as_user, role, request
):
    person = screened(yes={"anticoagulants": None})
    http = as_user(request.getfixturevalue(role))
    detail = http.get(reverse("client-detail", args=[person.pk])).content.decode()
    url = reverse("screening-correct", args=[person.pk])
    assert f'href="{url}"' in detail

    page = http.get(url)

    assert page.status_code == 200
    form = page.context["form"]
    assert form["screen_anticoagulants"].value() == "yes" and form["screen_pregnant_or_nursing"].value() == "no"
    html = page.content.decode()
    assert 'name="screen_anticoagulants" value="yes" checked' in html
    assert "never edits it" in html and 'name="correction_reason"' in html


def test_front_desk_gets_neither_the_link_nor_the_page_nor_any_answer(screened, as_user, front_desk):
    person = screened(yes={"anticoagulants": None})
    http = as_user(front_desk)
    url = reverse("screening-correct", args=[person.pk])
    detail = http.get(reverse("client-detail", args=[person.pk])).content.decode()
    assert url not in detail and "anticoagulant" not in detail.lower()

    for response in (http.get(url), http.post(url, screening_correction(person, reason="x", anticoagulants="no"))):
        assert response.status_code == 403
        body = response.content.decode().lower()
        assert "anticoagulant" not in body and "screen_" not in body
    assert Screening.objects.filter(client=person).count() == 1


def test_a_correction_is_a_new_dated_screen_and_the_plan_is_re_checked(booked_plan, as_user, clinician):
    plan = booked_plan()
    person = plan.client
    first = person.screenings.get()
    url = reverse("screening-correct", args=[person.pk])

    response = as_user(clinician).post(
        url, screening_correction(person, reason="Misheard: she is pregnant", pregnant_or_nursing="yes")
    )

    assert response.status_code == 302 and response["Location"] == reverse("client-detail", args=[person.pk])
    corrected = person.screenings.exclude(pk=first.pk).get()
    assert corrected.corrects == first and corrected.screened_by == clinician
    assert corrected.correction_reason == "Misheard: she is pregnant"
    assert _answer(corrected, "pregnant_or_nursing") is True
    assert _answer(first, "pregnant_or_nursing") is False, "the original record stands"
    hold = safety.plan_open_hold(plan)
    assert hold is not None and any("Pregnancy" in line or "pregnan" in line.lower() for line in hold.reasons)
    detail = as_user(clinician).get(response["Location"]).content.decode()
    assert "A correction: Misheard: she is pregnant" in detail


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reason": "", "anticoagulants": "yes"}, "Say why the screening is corrected."),
        ({"reason": "typo"}, "Nothing to correct: every answer and date is as recorded."),
        ({"reason": "typo", "anticoagulants": None}, "Answer yes or no."),
        ({"reason": "typo", "isotretinoin_past": "maybe"}, "Select a valid choice."),
        ({"reason": "x" * 256, "anticoagulants": "yes"}, "at most 255 characters"),
    ],
)
def test_a_bad_correction_says_what_is_wrong_and_saves_nothing(screened, as_user, aesthetician, change, message):
    person = screened()
    data = screening_correction(person, reason=change.pop("reason"), **{k: v for k, v in change.items() if v})
    for code in [k for k, v in change.items() if v is None]:
        data.pop(f"screen_{code}")

    response = as_user(aesthetician).post(reverse("screening-correct", args=[person.pk]), data)

    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert Screening.objects.filter(client=person).count() == 1


def test_a_correction_from_a_page_showing_a_superseded_screen_is_refused(screened, as_user, aesthetician, clinician):
    person = screened()
    url = reverse("screening-correct", args=[person.pk])
    stale = screening_correction(person, reason="Forgot her warfarin", anticoagulants="yes")
    assert as_user(clinician).post(url, stale).status_code == 302

    again = as_user(aesthetician).post(url, {**stale, "correction_reason": "Also warfarin"})

    assert again.status_code == 409
    assert "no longer the client's current one" in again.content.decode().replace("&#x27;", "'")
    assert Screening.objects.filter(client=person).count() == 2
