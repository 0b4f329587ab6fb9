"""Standard photos: what is stored (no metadata, upright, bounded), who may take and see them,
and what is refused without changing anything."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from plans import models
from plans.roles import CLINICIAN
from plans.services import photos as photo_services
from plans.services.consent import consent_withdraw
from plans.services.privacy import client_erase
from tests.helpers.photos import GPS_IFD, face_jpeg, photo_visits

pytestmark = pytest.mark.django_db


@pytest.fixture
def visits(aesthetician):
    return photo_visits(practitioner=aesthetician.practitioner)


def stored_files(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file())


def upload(client, session, view, data, *, name="photo.jpg", json=False):
    extra = {"HTTP_ACCEPT": "application/json"} if json else {}
    return client.post(
        reverse("photo-upload", args=[session.pk, view.pk]),
        {"image": SimpleUploadedFile(name, data, content_type="image/jpeg")},
        **extra,
    )


def test_the_default_views_are_front_left_and_right_45_in_order_and_loading_them_again_adds_none():
    # The migration calls this; a flushed database (after a transactional test) needs it again.
    photo_services.load_default_photo_views()
    photo_services.load_default_photo_views()
    assert list(models.PhotoView.objects.values_list("code", flat=True)) == ["front", "left-45", "right-45"]


def test_an_uploaded_photo_is_stored_without_exif_gps_upright_and_with_a_thumbnail(
    client, aesthetician, visits, photo_dir
):
    original = face_jpeg(600, 800, orientation=6)  # stored sideways, as a tablet held on its side does
    assert b"SN-0042-CLINIC" in original and Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)
    client.force_login(aesthetician)
    response = upload(client, visits.assessment, visits.views[0], original, json=True)
    assert response.status_code == 201, response.content
    photo = models.Photo.objects.get()
    files = stored_files(photo_dir)
    assert len(files) == 2
    stored = (photo_dir / photo.image_name).read_bytes()
    # The bytes on disk: no EXIF segment at all (APP1 "Exif"), no GPS, no serial, no camera name.
    assert b"Exif\x00\x00" not in stored and b"SN-0042-CLINIC" not in stored and b"TabletCam" not in stored
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG" and not image.getexif() and not image.getexif().get_ifd(GPS_IFD)
    # Orientation 6 means "rotate 90° clockwise to view": the stored image is upright, 800 wide.
    assert (image.width, image.height) == (800, 600) == (photo.width, photo.height)
    red_corner = image.convert("RGB").getpixel((image.width - 5, 5))
    assert red_corner[0] > 200 and red_corner[1] < 60, red_corner
    thumb = Image.open(io.BytesIO((photo_dir / photo.thumbnail_name).read_bytes()))
    assert max(thumb.size) == 320 and not thumb.getexif()
    assert photo.session == visits.assessment and photo.taken_by == aesthetician


def test_a_big_photo_is_bounded_to_the_long_edge_limit(aesthetician, visits, settings):
    settings.CLINICAL_PHOTO_MAX_EDGE = 1000
    photo = photo_services.photo_take(
        session=visits.baseline, view=visits.views[0], data=face_jpeg(1500, 2000, gps=False), by=aesthetician
    )
    assert (photo.width, photo.height) == (750, 1000)


def test_without_photo_consent_the_upload_is_refused_with_a_message_and_nothing_is_stored(
    client, aesthetician, photo_dir
):
    visits = photo_visits(practitioner=aesthetician.practitioner, consent=False)
    client.force_login(aesthetician)
    response = upload(client, visits.assessment, visits.views[0], face_jpeg(), json=True)
    assert response.status_code == 400
    assert "no photo consent" in response.json()["error"]
    assert not models.Photo.objects.exists() and stored_files(photo_dir) == []
    page = client.get(reverse("session-photos", args=[visits.assessment.pk])).content.decode()
    assert "no photo consent" in page and 'type="file"' not in page


def test_a_withdrawn_photo_consent_or_one_without_the_clinical_record_use_refuses(aesthetician, visits, photo_dir):
    consent = models.SignedConsent.objects.get(client=visits.client, kind=models.ConsentKind.PHOTO)
    consent_withdraw(consent=consent, by=aesthetician, reason="Client asked on the phone")
    with pytest.raises(photo_services.PhotoRefused, match="no photo consent"):
        photo_services.photo_take(session=visits.assessment, view=visits.views[0], data=face_jpeg(), by=aesthetician)
    assert stored_files(photo_dir) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.7 not a photo", "not an image"),
        (b"", "empty"),
        (b"GIF89a" + b"\x00" * 40, "not an image"),
        (face_jpeg()[:400], "not an image"),
    ],
    ids=["pdf", "empty", "broken-gif", "truncated-jpeg"],
)
def test_a_file_that_is_not_a_photo_is_refused_clearly(client, aesthetician, visits, photo_dir, data, message):
    client.force_login(aesthetician)
    response = upload(client, visits.assessment, visits.views[0], data, json=True)
    assert response.status_code == 400
    error = response.json()["error"]
    # An empty file never reaches the service: the form asks for a photo.
    assert message in error or (message == "empty" and "Choose a photo" in error), error
    assert not models.Photo.objects.exists() and stored_files(photo_dir) == []


def test_a_photo_over_the_size_limit_is_refused_before_it_is_read(client, aesthetician, visits, photo_dir, settings):
    settings.CLINICAL_PHOTO_MAX_UPLOAD_BYTES = 2048
    client.force_login(aesthetician)
    response = upload(client, visits.assessment, visits.views[0], face_jpeg(), json=True)
    assert response.status_code == 400 and "too large" in response.json()["error"]
    assert stored_files(photo_dir) == []


def test_the_plain_file_form_stores_the_photo_and_a_second_one_for_the_view_is_refused(
    client, aesthetician, visits, photo_dir
):
    client.force_login(aesthetician)
    first = upload(client, visits.assessment, visits.views[1], face_jpeg())
    assert first.status_code == 302
    again = upload(client, visits.assessment, visits.views[1], face_jpeg(), json=True)
    assert again.status_code == 409 and "already taken" in again.json()["error"]
    assert models.Photo.objects.count() == 1 and len(stored_files(photo_dir)) == 2


def test_a_visit_not_checked_in_takes_no_photos(aesthetician, visits):
    visits.assessment.checked_in_at = None
    visits.assessment.save(update_fields=["checked_in_at"])
    with pytest.raises(photo_services.PhotoRefused, match="Check the client in"):
        photo_services.photo_take(session=visits.assessment, view=visits.views[0], data=face_jpeg(), by=aesthetician)


def _photos(visits, by):
    for session in (visits.baseline, visits.second):
        photo_services.photo_take(session=session, view=visits.views[0], data=face_jpeg(gps=False), by=by)
    return list(models.Photo.objects.order_by("taken_at"))


def test_an_image_is_served_only_through_the_checked_view_private_no_store_and_logged(client, aesthetician, visits):
    before, _after = _photos(visits, aesthetician)
    client.force_login(aesthetician)
    seen = models.RecordAccess.objects.count()
    response = client.get(reverse("photo-image", args=[before.pk, "full"]))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    cache = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= cache
    assert Image.open(io.BytesIO(response.content)).size == (before.width, before.height)
    access = models.RecordAccess.objects.order_by("-id").first()
    assert models.RecordAccess.objects.count() == seen + 1
    assert (access.user, access.client, access.action) == (aesthetician, visits.client, "view")
    assert f"photo {before.pk}" in access.reason


def test_an_image_url_is_refused_to_front_desk_and_anonymous(client, aesthetician, front_desk, visits):
    photo, _ = _photos(visits, aesthetician)
    for size in ("full", "thumb"):
        url = reverse("photo-image", args=[photo.pk, size])
        anonymous = client.get(url)
        assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
        client.force_login(front_desk)
        refused = client.get(url)
        assert refused.status_code == 403 and refused["Content-Type"].startswith("text/html")
        client.logout()
    for name in ("session-photos", "client-before-after"):
        client.force_login(front_desk)
        arg = visits.assessment.pk if name == "session-photos" else visits.client.pk
        assert client.get(reverse(name, args=[arg])).status_code == 403
    assert not models.RecordAccess.objects.filter(user=front_desk).exists()


def test_front_desk_pages_show_no_photo_links_and_clinical_roles_do(
    client, aesthetician, front_desk, visits, role_user
):
    _photos(visits, aesthetician)
    client.force_login(front_desk)
    for url in (reverse("client-detail", args=[visits.client.pk]), reverse("plan-detail", args=[visits.plan.pk])):
        page = client.get(url).content.decode()
        assert "Before / after" not in page and "/photos/" not in page and "Photos</a>" not in page
    client.force_login(role_user(CLINICIAN, username="dr-lee"))
    plan_page = client.get(reverse("plan-detail", args=[visits.plan.pk])).content.decode()
    assert reverse("client-before-after", args=[visits.client.pk]) in plan_page
    assert reverse("session-photos", args=[visits.baseline.pk]) in plan_page
    client_page = client.get(reverse("client-detail", args=[visits.client.pk])).content.decode()
    assert reverse("client-before-after", args=[visits.client.pk]) in client_page


def test_before_after_defaults_to_the_baseline_against_the_newest_with_the_sessions_between(
    client, aesthetician, visits
):
    photo_services.photo_take(session=visits.assessment, view=visits.views[0], data=face_jpeg(), by=aesthetician)
    _photos(visits, aesthetician)
    before, middle, newest = models.Photo.objects.order_by("session__sequence")
    client.force_login(aesthetician)
    response = client.get(reverse("client-before-after", args=[visits.client.pk]))
    page = response.content.decode()
    comparison = response.context["c"]
    assert (comparison.before, comparison.after) == (before, newest)
    assert reverse("photo-image", args=[before.pk, "full"]) in page and 'type="range"' in page
    assert [row.session for row in comparison.history] == [visits.baseline, visits.second]
    assert "0.75 mm" in page and 'id="ba-scores"' in page
    chosen = client.get(
        reverse("client-before-after", args=[visits.client.pk]),
        {"view": "front", "before": middle.pk, "after": newest.pk},
    ).context["c"]
    assert (chosen.before, chosen.after) == (middle, newest)
    assert [row.session for row in chosen.history] == [visits.second]


def test_erasing_the_client_deletes_the_photo_rows_and_files(
    aesthetician, clinic_admin, visits, photo_dir, django_capture_on_commit_callbacks
):
    _photos(visits, aesthetician)
    assert len(stored_files(photo_dir)) == 4
    # Erasure refuses while a visit is still booked: the assessment was called off.
    visits.assessment.status, visits.assessment.checked_in_at = models.SessionStatus.CANCELLED, None
    visits.assessment.save(update_fields=["status", "checked_in_at"])
    with django_capture_on_commit_callbacks(execute=True):
        client_erase(client=visits.client, by=clinic_admin, reason="Written request of 1 Dec 2026")
    assert not models.Photo.objects.exists()
    assert stored_files(photo_dir) == []
