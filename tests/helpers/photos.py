"""Photos as tests need them: a camera JPEG carrying GPS and an orientation in its EXIF, a client with
(or without) the photo consent, and visits that take photos, stored as the app stores them."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageDraw

from plans import models
from plans.services import photos as photo_services
from plans.services.photos import load_default_photo_views
from tests.factories import ClientFactory, PlanSessionFactory, TreatmentPlanFactory
from tests.helpers.consent import sign_in_clinic
from tests.helpers.snapshots import protocol_snapshot

# EXIF tag numbers (Pillow's ExifTags.Base / GPS).
ORIENTATION, GPS_IFD, MAKE, SERIAL = 0x0112, 0x8825, 0x010F, 0xA431
GPS_LATITUDE = (51, 30, 26)  # a London address, in the shape phones write it


def face_jpeg(width: int = 600, height: int = 800, *, orientation: int = 1, gps: bool = True, fmt="JPEG") -> bytes:
    """A face-like drawing saved the way a phone camera saves it: EXIF with the camera, a serial
    number and (by default) the GPS position. orientation=6 stores it sideways ("rotate 90° to view")."""
    image = Image.new("RGB", (width, height), (226, 196, 170))
    draw = ImageDraw.Draw(image)
    draw.ellipse((width * 0.2, height * 0.15, width * 0.8, height * 0.85), fill=(236, 206, 180), outline=(120, 80, 60))
    draw.ellipse((width * 0.33, height * 0.38, width * 0.43, height * 0.44), fill=(60, 40, 30))
    draw.ellipse((width * 0.57, height * 0.38, width * 0.67, height * 0.44), fill=(60, 40, 30))
    draw.arc((width * 0.38, height * 0.55, width * 0.62, height * 0.7), 20, 160, fill=(150, 60, 60), width=4)
    draw.rectangle((0, 0, width // 10, height // 10), fill=(255, 0, 0))  # a red corner shows which way is up
    exif = Image.Exif()
    exif[MAKE] = "TabletCam"
    exif[SERIAL] = "SN-0042-CLINIC"
    exif[ORIENTATION] = orientation
    if gps:
        exif.get_ifd(GPS_IFD).update({1: "N", 2: GPS_LATITUDE, 3: "W", 4: (0, 7, 39)})
    out = io.BytesIO()
    image.save(out, format=fmt, exif=exif.tobytes())
    return out.getvalue()


@dataclass
class Visits:
    client: models.Client
    plan: models.TreatmentPlan
    baseline: models.PlanSession  # session 1, completed
    second: models.PlanSession  # session 2, completed four weeks later
    assessment: models.PlanSession  # the 12-week follow-up, checked in today
    views: list[models.PhotoView]


def photo_visits(*, practitioner, consent: bool = True, witness=None) -> Visits:
    """A client whose first two microneedling sessions took place and whose assessment is today."""
    load_default_photo_views()
    client = ClientFactory(first_name="Pia", last_name="Lind")
    if consent:
        sign_in_clinic(
            client,
            witness or practitioner.user,
            kind=models.ConsentKind.PHOTO,
            photo_uses=[models.PhotoUse.CLINICAL_RECORD],
        )
    plan = TreatmentPlanFactory(client=client, protocol_snapshot=protocol_snapshot(session_count=2))
    first = dt.datetime(2026, 1, 6, 10, tzinfo=dt.UTC)
    done = {"practitioner": practitioner, "status": models.SessionStatus.COMPLETED}
    baseline = PlanSessionFactory(plan=plan, sequence=1, booked_at=first, depth_used_mm="0.50", **done)
    second = PlanSessionFactory(
        plan=plan, sequence=2, booked_at=first + dt.timedelta(weeks=4), depth_used_mm="0.75", **done
    )
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    assessment = PlanSessionFactory(
        plan=plan,
        sequence=3,
        kind=models.SessionKind.FOLLOW_UP,
        title="Follow-up assessment",
        booked_at=now - dt.timedelta(minutes=10),
        practitioner=practitioner,
        checked_in_at=now - dt.timedelta(minutes=5),
    )
    for session in (baseline, second):
        session.completed_at = session.ends_at
        session.save(update_fields=["completed_at"])
    return Visits(client, plan, baseline, second, assessment, list(models.PhotoView.objects.order_by("position")))


def world_photo(session: models.PlanSession, *, by) -> models.Photo:
    """The URL walk's photo: its files stored and its row written as photo_take writes them (the
    world's client has no photo consent, so the service itself would refuse), and a change to a
    view so the admin's history pages have a version to open."""
    load_default_photo_views()
    view = models.PhotoView.objects.get(code="front")
    view.guidance = f"{view.guidance} Glasses off."
    view.save()
    encoded = photo_services.photo_encode(face_jpeg(gps=False))
    storage = photo_services.photo_storage()
    names = [
        storage.save(f"w/{kind}.jpg", io.BytesIO(data))
        for kind, data in (("image", encoded.image), ("thumb", encoded.thumbnail))
    ]
    return models.Photo.objects.create(
        session=session,
        view=view,
        image_name=names[0],
        thumbnail_name=names[1],
        width=encoded.width,
        height=encoded.height,
        byte_size=len(encoded.image),
        sha256=hashlib.sha256(encoded.image).hexdigest(),
        taken_at=dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC),
        taken_by=by,
    )
