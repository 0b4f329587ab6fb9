"""The intake services: the invitation and its email in one transaction, the person's answers taken
once and validated as the staff intake is, a call flagged for a yes the rules act on, the review
creating the client through the clients service."""

import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from plans import outbox
from plans.models import Client, IntakeInvitation, IntakeStatus, Message, MessageKind, MessageStatus
from plans.services import intake
from tests.factories import ClientFactory
from tests.intake.conftest import NO_RULE, filled


def _deliver_all():
    for message_id in outbox.sweep_due():
        outbox.deliver(message_id)


def test_an_invitation_writes_its_email_row_which_the_outbox_delivers(invite, settings):
    invitation = invite()

    message = Message.objects.get(intake=invitation)
    assert (message.kind, message.client_id, message.session_id) == (MessageKind.INTAKE, None, None)
    assert invitation.status() == IntakeStatus.SENT
    _deliver_all()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    (email,) = mail.outbox
    assert email.to == ["nina.hart@example.com"]
    assert "first consultation" in email.subject
    body = email.body
    assert "Dear Nina," in body
    assert f"Fill in your forms: {settings.CLINIC_BASE_URL}/e/intake/" in body
    # One email they asked for: no unsubscribe line or header, no client page.
    assert "Stop receiving" not in body and "List-Unsubscribe" not in email.extra_headers
    html = email.alternatives[0][0]
    assert "Fill in your forms" in html and 'class="button' in html


def test_an_invitation_refuses_someone_already_a_client_and_a_bad_address(invite):
    ClientFactory(email="zoe@example.com")
    with pytest.raises(ValidationError, match="already uses this email"):
        invite(email="ZOE@example.com")
    with pytest.raises(ValidationError, match="email address"):
        invite(email="not an address")
    with pytest.raises(ValidationError, match="line"):
        invite(first_name="Ni\nna")
    assert not IntakeInvitation.objects.exists() and not Message.objects.exists()


def test_a_second_invitation_to_an_address_with_open_forms_is_refused_until_they_are_withdrawn(invite, clinic_admin):
    first = invite()
    with pytest.raises(ValidationError, match="already sent to this address"):
        invite(email="NINA.HART@example.com")
    assert IntakeInvitation.objects.count() == 1 and Message.objects.count() == 1
    intake.intake_revoke(invitation=first, by=clinic_admin)
    second = invite()
    assert second.pk != first.pk and Message.objects.filter(intake=second).exists()


def test_the_database_refuses_an_intake_email_about_a_session_or_a_session_email_without_one(invite):
    invitation = invite()
    client = ClientFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(
            intake=invitation, client=client, kind=MessageKind.INTAKE, send_at=timezone.now(), session_version=0
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(client=client, kind=MessageKind.CONFIRMATION, send_at=timezone.now(), session_version=0)


def test_answers_are_taken_once(invite):
    invitation = invite()
    taken = intake.intake_submit(invitation=invitation, **filled())
    assert taken.submitted_at and not taken.needs_call and taken.status() == IntakeStatus.COMPLETED

    with pytest.raises(intake.IntakeRefused, match="already received") as refused:
        intake.intake_submit(invitation=invitation, **filled(oiliness="dry"))
    assert refused.value.conflict
    assert IntakeInvitation.objects.get().answers["oiliness"] == "oily"


def test_answers_are_validated_as_the_staff_intake_validates_them(invite):
    invitation = invite()
    too_young = timezone.localdate() - dt.timedelta(days=365 * 16)
    with pytest.raises(ValidationError) as refused:
        intake.intake_submit(
            invitation=invitation,
            **filled(
                date_of_birth=too_young,
                oiliness="greasy",
                screening={**filled()["screening"], "isotretinoin": (True, None)},
            ),
        )
    problems = refused.value.message_dict
    assert "aged 18 or over" in problems["date_of_birth"][0]
    assert problems["isotretinoin"] == ["Give the date it last happened."]
    assert "oiliness" in problems
    assert IntakeInvitation.objects.get().submitted_at is None


def test_a_yes_the_rules_act_on_flags_a_call_and_a_yes_no_rule_acts_on_does_not(invite):
    calm = invite(email="calm@example.com")
    taken = intake.intake_submit(invitation=calm, **filled(screening={**filled()["screening"], NO_RULE: (True, None)}))
    assert not taken.needs_call

    worried = invite(email="worried@example.com")
    last_dose = timezone.localdate() - dt.timedelta(days=30)
    taken = intake.intake_submit(
        invitation=worried, **filled(screening={**filled()["screening"], "isotretinoin": (True, last_dose)})
    )
    assert taken.needs_call and taken.status() == IntakeStatus.NEEDS_CALL


def test_a_withdrawn_or_expired_link_takes_nothing_and_its_email_is_not_sent(invite, clinic_admin):
    withdrawn = invite(email="w@example.com")
    intake.intake_revoke(invitation=withdrawn, by=clinic_admin)
    expired = invite(email="e@example.com")
    later = expired.expires_at + dt.timedelta(seconds=1)
    for invitation, now, text in ((withdrawn, None, "withdrawn"), (expired, later, "expired")):
        with pytest.raises(intake.IntakeRefused, match=text) as refused:
            intake.intake_submit(invitation=invitation, **filled(), **({"now": now} if now else {}))
        assert not refused.value.conflict
    with pytest.raises(intake.IntakeRefused, match="cannot be withdrawn"):
        intake.intake_revoke(invitation=withdrawn, by=clinic_admin)
    _deliver_all()
    assert [email.to for email in mail.outbox] == [["e@example.com"]]  # not expired yet when it went out
    assert Message.objects.get(intake=withdrawn).status == MessageStatus.CANCELLED


def test_an_email_not_yet_sent_when_the_forms_come_back_is_not_sent(invite):
    invitation = invite()
    intake.intake_submit(invitation=invitation, **filled())
    _deliver_all()
    assert not mail.outbox
    assert "forms came back" in Message.objects.get(intake=invitation).status_reason


def test_review_creates_the_client_with_the_screening_as_given_dated_the_day_they_answered(invite, aesthetician):
    invitation = invite()
    last_dose = dt.date(2026, 1, 10)
    submitted = intake.intake_submit(
        invitation=invitation,
        **filled(screening={**filled()["screening"], "isotretinoin": (True, last_dose)}),
        now=dt.datetime(2026, 6, 2, 9, tzinfo=dt.UTC),
    )

    client = intake.intake_review(invitation=submitted, fitzpatrick=4, by=aesthetician, notes="Prefers mornings")

    assert (client.first_name, client.email, client.phone) == ("Nina", "nina.hart@example.com", "+44 7700 900222")
    assert (client.date_of_birth, client.fitzpatrick, client.oiliness, client.email_consent) == (
        dt.date(1990, 5, 1),
        4,
        "oily",
        True,
    )
    screen = client.screenings.get()
    assert screen.screened_on == dt.date(2026, 6, 2)
    assert "Given by the client on their intake form" in screen.notes
    answers = {a.question.code: (a.answer, a.last_date) for a in screen.answers.all()}
    assert answers["isotretinoin"] == (True, last_dose)
    invitation.refresh_from_db()
    assert invitation.client == client and invitation.status() == IntakeStatus.REVIEWED

    with pytest.raises(intake.IntakeRefused, match="already reviewed") as refused:
        intake.intake_review(invitation=invitation, fitzpatrick=2, by=aesthetician)
    assert refused.value.conflict
    assert Client.objects.count() == 1


def test_review_refuses_forms_not_sent_back_and_a_bad_skin_type(invite, aesthetician):
    invitation = invite()
    with pytest.raises(intake.IntakeRefused, match="not sent their forms"):
        intake.intake_review(invitation=invitation, fitzpatrick=3, by=aesthetician)
    intake.intake_submit(invitation=invitation, **filled())
    with pytest.raises(ValidationError):
        intake.intake_review(invitation=invitation, fitzpatrick=9, by=aesthetician)
    assert not Client.objects.exists()
    assert IntakeInvitation.objects.get().reviewed_at is None


def test_the_database_refuses_answers_on_a_withdrawn_link_and_a_review_without_answers(invite):
    invitation = invite()
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        IntakeInvitation.objects.filter(pk=invitation.pk).update(revoked_at=now, submitted_at=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        IntakeInvitation.objects.filter(pk=invitation.pk).update(reviewed_at=now)


def test_the_clients_data_export_holds_their_intake_and_erasure_deletes_it(invite, aesthetician, clinic_admin):
    from plans.services import privacy

    invitation = invite()
    intake.intake_submit(invitation=invitation, **filled())
    client = intake.intake_review(invitation=invitation, fitzpatrick=3, by=aesthetician)

    exported = privacy.client_export(client=client, by=clinic_admin)["client"]
    (given,) = exported["intake_invitation"]
    assert given["answers"]["date_of_birth"] == "1990-05-01" and given["email"] == "nina.hart@example.com"

    privacy.client_erase(client=client, by=clinic_admin, reason="Written request of 2 June")
    assert not IntakeInvitation.objects.exists()
    assert not Message.objects.filter(kind=MessageKind.INTAKE).exists()


def test_forms_that_never_became_a_client_are_deleted_after_the_keeping_time(invite, aesthetician, settings):
    kept_days = dt.timedelta(days=settings.INTAKE_KEEP_DAYS)
    answered = invite(email="a@example.com")
    intake.intake_submit(invitation=answered, **filled())
    became_client = invite(email="b@example.com")
    intake.intake_submit(invitation=became_client, **filled())
    intake.intake_review(invitation=became_client, fitzpatrick=2, by=aesthetician)
    fresh_now = timezone.now()
    assert intake.intake_purge(now=fresh_now + kept_days - dt.timedelta(hours=1)) == 0
    assert intake.intake_purge(now=fresh_now + kept_days + dt.timedelta(hours=1)) == 1
    assert list(IntakeInvitation.objects.values_list("email", flat=True)) == ["b@example.com"]
    assert not Message.objects.filter(intake=answered.pk).exists()
    assert intake.intake_purge(now=fresh_now + kept_days + dt.timedelta(hours=1)) == 0
