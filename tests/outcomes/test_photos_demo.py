"""The demo's photos: a photo consent is signed when the demo has none, and every completed visit of a
consenting client gets its standard views (drawn faces), once; clients without the consent get none."""

import io

import pytest
from django.core.management import call_command
from PIL import Image

from plans import models
from plans.management.commands.load_demo import PHOTO_CONSENT_CLIENT, demo_photos
from plans.services import photos as photo_services

pytestmark = pytest.mark.django_db


def _complete(session):
    # What the other half of the demo (a year of completed plans) leaves behind: a visit that took place.
    models.PlanSession.objects.filter(pk=session.pk).update(
        status=models.SessionStatus.COMPLETED, completed_at=session.ends_at, checked_in_at=None, started_at=None
    )


def test_the_demo_photographs_completed_visits_of_consenting_clients_only_and_once(photo_dir):
    call_command("load_demo", verbosity=0)
    emma = models.Client.objects.get(email=PHOTO_CONSENT_CLIENT)
    assert models.SignedConsent.objects.current(client_id=emma.pk, kind=models.ConsentKind.PHOTO).allows_photo_use(
        models.PhotoUse.CLINICAL_RECORD
    )
    emma_first = emma.plans.get().sessions.get(mn_number=1)
    kwame_first = models.Client.objects.get(email="kwame.mensah@example.com").plans.get().sessions.get(mn_number=1)
    for session in (emma_first, kwame_first):
        _complete(session)
    alex = models.Practitioner.objects.get(display_name="Alex Morgan").user
    created: list[str] = []
    demo_photos(witness=alex, created=created)
    photos = models.Photo.objects.all()
    assert {p.session_id for p in photos} == {emma_first.pk} and photos.count() == 3
    assert Image.open(io.BytesIO(photo_services.photo_read(photos[0]))).size == (600, 800)
    again: list[str] = []
    demo_photos(witness=alex, created=again)
    assert again == [] and models.Photo.objects.count() == 3
