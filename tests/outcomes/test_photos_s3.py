"""The clinical-photo storage swapped for an S3-compatible server (moto's, on its own loopback port):
what production runs with CLINICAL_PHOTOS_S3_BUCKET. The photo goes through the same service and
view; the object in the bucket has no metadata and is private; erasure removes it."""

import io

import boto3
import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from moto.server import ThreadedMotoServer
from PIL import Image

from plans import models
from plans.services import photos as photo_services
from plans.services.privacy import client_erase
from tests.helpers.photos import face_jpeg, photo_visits
from tests.helpers.ports import free_port

pytestmark = pytest.mark.django_db
BUCKET = "clinic-photos-test"
CREDENTIALS = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret", "region_name": "eu-west-2"}


@pytest.fixture
def s3(settings):
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    bucket = boto3.client("s3", endpoint_url=endpoint, **CREDENTIALS)
    bucket.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    settings.STORAGES = {
        **django_settings.STORAGES,
        "clinical_photos": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": endpoint,
                "access_key": CREDENTIALS["aws_access_key_id"],
                "secret_key": CREDENTIALS["aws_secret_access_key"],
                "region_name": CREDENTIALS["region_name"],
                "location": "photos",
                "default_acl": "private",
                "file_overwrite": False,
            },
        },
    }
    yield bucket
    server.stop()


def objects(bucket):
    return sorted(o["Key"] for o in bucket.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_photos_are_stored_in_the_s3_bucket_private_without_metadata_and_erased_with_the_client(
    s3, client, aesthetician, clinic_admin, django_capture_on_commit_callbacks
):
    assert type(photo_services.photo_storage()).__name__ == "S3Storage"
    visits = photo_visits(practitioner=aesthetician.practitioner)
    photo = photo_services.photo_take(session=visits.baseline, view=visits.views[0], data=face_jpeg(), by=aesthetician)
    keys = objects(s3)
    assert keys == sorted([f"photos/{photo.image_name}", f"photos/{photo.thumbnail_name}"])
    stored = s3.get_object(Bucket=BUCKET, Key=f"photos/{photo.image_name}")["Body"].read()
    assert b"Exif\x00\x00" not in stored and b"SN-0042-CLINIC" not in stored
    grants = s3.get_object_acl(Bucket=BUCKET, Key=f"photos/{photo.image_name}")["Grants"]
    assert all("AllUsers" not in str(grant.get("Grantee", {})) for grant in grants)

    client.force_login(aesthetician)
    response = client.get(reverse("photo-image", args=[photo.pk, "full"]))
    assert response.status_code == 200 and response.content == stored
    assert Image.open(io.BytesIO(response.content)).size == (photo.width, photo.height)

    with django_capture_on_commit_callbacks(execute=True):
        client_erase(client=visits.client, by=clinic_admin, reason="Written request of 1 Dec 2026")
    assert not models.Photo.objects.exists()
    assert objects(s3) == []
