"""Photo uploads raced through the front door on PostgreSQL (gunicorn, a barrier): two tablets
and a double tap on each, all for the same view of the same visit, never answer 500 and leave
exactly one photo with exactly its two files; every other upload is told it was already taken."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from bench.server import staff_cookies
from plans import models
from plans.roles import CLINICIAN
from tests.helpers.http_races import NEEDS_POSTGRES, ON_POSTGRES, fire_each
from tests.helpers.photos import face_jpeg, photo_visits

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not ON_POSTGRES, reason=NEEDS_POSTGRES),
    pytest.mark.django_db(transaction=True),
]


def test_two_tablets_double_submitting_one_view_store_one_photo_and_never_answer_500(
    aesthetician, role_user, race_server, photo_dir
):
    role_user(CLINICIAN, username="dr-lee")
    visits = photo_visits(practitioner=aesthetician.practitioner)
    tablets = [staff_cookies("ana"), staff_cookies("dr-lee")]
    rounds = [
        (session, view) for session in (visits.baseline, visits.second, visits.assessment) for view in visits.views
    ]
    for session, view in rounds:
        path = reverse("photo-upload", args=[session.pk, view.pk])
        requests = [
            (path, {"image": SimpleUploadedFile("camera.jpg", face_jpeg(gps=False), "image/jpeg")}, cookies)
            for cookies in tablets
            for _double_tap in range(2)
        ]
        answers = fire_each(race_server, requests, multipart=True)
        statuses = sorted(status for status, _body in answers)
        assert statuses == [201, 409, 409, 409], answers
        refusals = [json.loads(body)["error"] for status, body in answers if status == 409]
        assert all("already taken" in message for message in refusals)
        assert models.Photo.objects.filter(session=session, view=view).count() == 1
    photos = models.Photo.objects.all()
    assert photos.count() == len(rounds)
    # The losers' files were removed: exactly each photo's image and thumbnail are on disk.
    on_disk = sorted(str(p.relative_to(photo_dir)) for p in photo_dir.rglob("*.jpg"))
    assert on_disk == sorted(name for p in photos for name in (p.image_name, p.thumbnail_name))
