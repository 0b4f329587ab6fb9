"""The intake over HTTP: staff invite from the list, the person fills in the forms from the link
(once; a bad link refused), front desk sees names and status but never the answers, a clinician
reviews and creates the client."""

import datetime as dt

import pytest
import time_machine
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from plans.models import Client, IntakeInvitation, Message
from plans.outbox.links import client_token, intake_token
from plans.services import intake
from tests.intake.conftest import NO_RULE, filled, form_post

PRIVATE = ("1990", "May", "oily", "Moderate", "Taken isotretinoin?", "Pregnant or nursing?", "+44 7700 900222")


def _public(invitation) -> str:
    return reverse("public-intake", args=[intake_token(invitation)])


def test_front_desk_invites_from_the_list_and_the_email_is_written(client, front_desk, catalogue):
    client.force_login(front_desk)
    page = client.get(reverse("intake-list"))
    assert page.status_code == 200 and 'id="intake-invite-form"' in page.text
    assert 'id="nav-intake"' in page.text

    response = client.post(
        reverse("intake-invite"),
        {"first_name": "Nina", "last_name": "Hart", "email": "nina@example.com", "phone": "0207 946 0000"},
    )
    assert response.status_code == 302
    invitation = IntakeInvitation.objects.get()
    assert invitation.invited_by == front_desk
    assert Message.objects.get(intake=invitation).kind == "intake"
    listed = client.get(reverse("intake-list")).text
    assert "Nina Hart" in listed and "Sent" in listed


def test_an_invitation_with_a_bad_address_is_refused_on_the_page(client, front_desk, catalogue):
    client.force_login(front_desk)
    response = client.post(reverse("intake-invite"), {"first_name": "Nina", "last_name": "Hart", "email": "nope"})
    assert response.status_code == 400
    assert not IntakeInvitation.objects.exists()


def test_the_person_fills_in_the_forms_once(client, invite):
    invitation = invite()
    url = _public(invitation)
    page = client.get(url)
    assert page.status_code == 200
    assert "Hello Nina" in page.text and "Taken isotretinoin?" in page.text and "Recent sun holiday?" in page.text

    done = client.post(url, form_post())
    assert done.status_code == 200 and "we have your answers" in done.text
    assert IntakeInvitation.objects.get().submitted_at is not None

    again = client.post(url, form_post(oiliness="dry"))
    assert again.status_code == 409 and "already received" in again.text
    assert client.get(url).status_code == 409
    assert IntakeInvitation.objects.get().answers["oiliness"] == "oily"


def test_the_form_refuses_what_the_staff_intake_refuses_with_the_same_words(client, invite):
    invitation = invite()
    too_young = (timezone.localdate() - dt.timedelta(days=365 * 16)).isoformat()
    response = client.post(
        _public(invitation), form_post(date_of_birth=too_young, screen_isotretinoin="yes", screen_anticoagulants="")
    )
    assert response.status_code == 400
    assert "aged 18 or over" in response.text
    assert "Give the date it last happened." in response.text
    assert "Answer yes or no." in response.text
    assert IntakeInvitation.objects.get().submitted_at is None


def test_a_yes_the_rules_act_on_says_plainly_the_clinic_will_call(client, invite, front_desk):
    invitation = invite()
    response = client.post(_public(invitation), form_post(screen_pregnant_nursing="yes"))
    assert response.status_code == 200
    assert "We will call you" in response.text and "we will call you" in response.text
    assert IntakeInvitation.objects.get().needs_call

    client.force_login(front_desk)
    assert "needs a call" in client.get(reverse("intake-list")).text


def test_a_yes_no_rule_acts_on_just_thanks_them(client, invite):
    response = client.post(_public(invite()), form_post(**{f"screen_{NO_RULE}": "yes"}))
    assert response.status_code == 200 and "call you" not in response.text


@pytest.mark.parametrize("how", ["tampered", "other purpose", "other invitation's address", "revoked", "expired"])
def test_a_bad_link_is_refused(client, invite, front_desk, how):
    invitation = invite()
    other = invite(email="other@example.com")
    token = intake_token(invitation)
    now = None
    if how == "tampered":
        token = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    elif how == "other purpose":
        token = client_token(invitation.pk, invitation.pk)  # a client-page token naming the same number
    elif how == "other invitation's address":
        # Signed right, but naming this invitation with the address another one was sent to.
        token = signing.TimestampSigner(salt="plans.links.intake").sign_object({"i": invitation.pk, "e": other.email})
    elif how == "revoked":
        intake.intake_revoke(invitation=invitation, by=front_desk)
    elif how == "expired":
        now = invitation.expires_at + dt.timedelta(minutes=1)
    url = reverse("public-intake", args=[token])
    with time_machine.travel(now or timezone.now(), tick=False):
        got, posted = client.get(url), client.post(url, form_post())
    assert (got.status_code, posted.status_code) == (400, 400)
    assert "This link cannot be used" in posted.text
    assert not IntakeInvitation.objects.filter(submitted_at__isnull=False).exists()


def test_another_invitations_link_opens_only_that_invitation(client, invite):
    mine, theirs = invite(), invite(email="sam@example.com", first_name="Sam")
    page = client.get(_public(theirs))
    assert "Hello Sam" in page.text and "Nina" not in page.text
    client.post(_public(theirs), form_post())
    mine.refresh_from_db()
    assert mine.submitted_at is None


def test_front_desk_sees_names_and_status_never_the_answers(client, invite, front_desk):
    invitation = invite()
    intake.intake_submit(
        invitation=invitation, **filled(screening={**filled()["screening"], "pregnant_nursing": (True, None)})
    )
    client.force_login(front_desk)
    for page in (reverse("intake-list"), reverse("home")):
        text = client.get(page).text
        assert "Nina Hart" in text and "needs a call" in text, page
        for private in PRIVATE:
            assert private not in text, (page, private)
    assert client.get(reverse("intake-detail", args=[invitation.pk])).status_code == 403
    assert "Review" not in client.get(reverse("intake-list")).text.split('id="intake-list"')[1]


def test_a_clinician_reviews_the_answers_and_creates_the_client(client, invite, aesthetician):
    invitation = invite()
    last_dose = timezone.localdate() - dt.timedelta(days=40)
    intake.intake_submit(
        invitation=invitation, **filled(screening={**filled()["screening"], "isotretinoin": (True, last_dose)})
    )
    client.force_login(aesthetician)
    assert "New-client forms to review" in client.get(reverse("home")).text
    url = reverse("intake-detail", args=[invitation.pk])
    page = client.get(url).text
    assert "Completed by the client" in page and "Needs a call" in page
    assert "Taken isotretinoin?" in page and "01 May 1990" in page

    refused = client.post(url, {"fitzpatrick": "", "notes": ""})
    assert refused.status_code == 400 and not Client.objects.exists()
    created = client.post(url, {"fitzpatrick": "3", "notes": ""})
    new = Client.objects.get()
    assert created.status_code == 302 and created["Location"] == reverse("client-detail", args=[new.pk])
    assert new.fitzpatrick == 3
    assert new.screenings.get().answers.get(question__code="isotretinoin").last_date == last_dose

    again = client.post(url, {"fitzpatrick": "2", "notes": ""})
    assert again.status_code == 409 and "already reviewed" in again.text
    assert Client.objects.count() == 1
    assert "Reviewed" in client.get(reverse("intake-list")).text


def test_an_intake_email_that_failed_shows_on_the_outbox_list_and_today_named_by_the_person(client, invite, front_desk):
    invitation = invite()
    Message.objects.filter(intake=invitation).update(status="failed", last_error="550 no such mailbox")
    client.force_login(front_desk)
    listed = client.get(reverse("messages") + "?status=failed")
    assert listed.status_code == 200
    assert "Nina Hart" in listed.text and "New-client forms" in listed.text
    today = client.get(reverse("home"))
    assert "Nina Hart: New-client forms" in today.text and "550 no such mailbox" in today.text
    message = Message.objects.get(intake=invitation)
    resent = client.post(reverse("message-resend", args=[message.pk]), {"next": reverse("messages")})
    assert resent.status_code == 302
    message.refresh_from_db()
    assert message.status == "pending"


def test_front_desk_withdraws_a_link_not_used_yet_and_it_then_refuses(client, invite, front_desk):
    invitation = invite()
    client.force_login(front_desk)
    assert "Withdraw link" in client.get(reverse("intake-list")).text
    assert client.post(reverse("intake-revoke", args=[invitation.pk])).status_code == 302
    assert "Withdrawn" in client.get(reverse("intake-list")).text
    client.logout()
    refused = client.get(_public(invitation))
    assert refused.status_code == 400 and "withdrawn by the clinic" in refused.text
