"""Races through the front door on PostgreSQL: the person's form sent twice at once, their submit
against staff withdrawing the link, two clinicians reviewing the same forms, a double invite.
One wins where one must, nobody gets a 500."""

import pytest
from django.urls import reverse

from bench.server import staff_cookies
from plans.models import Client, IntakeInvitation, Screening
from plans.outbox.links import intake_token
from plans.services import intake
from tests.helpers.http_races import NEEDS_POSTGRES, ON_POSTGRES, anonymous_cookies, fire_each
from tests.intake.conftest import filled, form_post

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason=NEEDS_POSTGRES),
    pytest.mark.django_db(transaction=True),
]
ROUNDS = 4


def test_the_form_sent_three_times_at_once_is_taken_once(invite, race_server):
    for n in range(ROUNDS):
        invitation = invite(email=f"p{n}@example.com")
        path = reverse("public-intake", args=[intake_token(invitation)])
        forms = [form_post(), form_post(oiliness="dry"), form_post(oiliness="normal")]
        answers = fire_each(race_server, [(path, form, anonymous_cookies()) for form in forms], json=False)
        assert sorted(status for status, _ in answers) == [200, 409, 409], answers
        invitation.refresh_from_db()
        winner = next(i for i, (status, _) in enumerate(answers) if status == 200)
        assert invitation.answers["oiliness"] == forms[winner]["oiliness"]


def test_a_submit_racing_staff_withdrawing_the_link_is_one_or_the_other(invite, front_desk, race_server):
    cookies = staff_cookies(front_desk.username)
    for n in range(ROUNDS):
        invitation = invite(email=f"r{n}@example.com")
        answers = fire_each(
            race_server,
            [
                (reverse("public-intake", args=[intake_token(invitation)]), form_post(), anonymous_cookies()),
                (reverse("intake-revoke", args=[invitation.pk]), {}, cookies),
            ],
            json=False,
        )
        assert all(status < 500 for status, _ in answers), answers
        invitation.refresh_from_db()
        assert (invitation.submitted_at is None) != (invitation.revoked_at is None)
        assert answers[0][0] == (200 if invitation.submitted_at else 400)


def test_two_clinicians_reviewing_the_same_forms_make_one_client(invite, aesthetician, role_user, race_server):
    from plans.roles import CLINICIAN

    role_user(CLINICIAN, username="dr_lee")
    cookies = [staff_cookies(aesthetician.username), staff_cookies("dr_lee")]
    for n in range(ROUNDS):
        invitation = intake.intake_submit(invitation=invite(email=f"c{n}@example.com"), **filled())
        path = reverse("intake-detail", args=[invitation.pk])
        answers = fire_each(
            race_server,
            [
                (path, {"fitzpatrick": "3", "notes": ""}, cookies[0]),
                (path, {"fitzpatrick": "4", "notes": ""}, cookies[1]),
            ],
            json=False,
        )
        assert sorted(status for status, _ in answers) == [302, 409], answers
        invitation.refresh_from_db()
        assert Client.objects.filter(email=f"c{n}@example.com").count() == 1
        assert invitation.client.email == f"c{n}@example.com"
        assert Screening.objects.filter(client=invitation.client).count() == 1


def test_a_double_invite_never_fails_the_desk(front_desk, catalogue, race_server):
    cookies = staff_cookies(front_desk.username)
    form = {"first_name": "Nina", "last_name": "Hart", "email": "nina@example.com", "phone": ""}
    answers = fire_each(race_server, [(reverse("intake-invite"), form, cookies)] * 2, json=False)
    assert sorted(status for status, _ in answers) == [302, 400], answers
    refused = next(body.decode() for status, body in answers if status == 400)
    assert "already sent to this address" in refused
    # Two clicks, one link: the second is told the forms are already on their way.
    (invitation,) = IntakeInvitation.objects.all()
    assert invitation.messages.count() == 1
