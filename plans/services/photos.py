"""Standard photos: taking one view of a visit's photo set, and deleting a client's photos on erasure.

An upload is untrusted bytes from a tablet. Pillow decodes it (anything that is not a JPEG,
PNG or WebP image is refused), turns it upright from its EXIF orientation, and re-encodes it
as a bounded JPEG with no metadata at all: location, camera serial, time. Only the
re-encoded image and its thumbnail are stored, through the "clinical_photos" storage.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image, ImageOps, UnidentifiedImageError

from plans.models import Client, Photo, PhotoUse, PhotoView, PlanSession
from plans.selectors import photo_consent_allows

STORAGE_ALIAS = "clinical_photos"
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "MPO"}  # MPO: what some phone cameras call a JPEG
JPEG_QUALITY = 88
# A decoded image this many pixels or more is refused before it is loaded (a "decompression bomb").
MAX_PIXELS = 60_000_000

DEFAULT_VIEWS = (
    ("front", "Front", "Face the camera, chin level, hair off the face, eyes open.", 1),
    ("left-45", "Left 45°", "Turn the head 45° to the client's right so the left cheek faces the camera.", 2),
    ("right-45", "Right 45°", "Turn the head 45° to the client's left so the right cheek faces the camera.", 3),
)


class PhotoRefused(Exception):
    """The photo was not stored; the message says why, for staff."""


class PhotoAlreadyTaken(PhotoRefused):
    """This view of this visit is already stored (a double submit, or another tablet)."""


def photo_check_size(size: int) -> None:
    limit = settings.CLINICAL_PHOTO_MAX_UPLOAD_BYTES
    if size > limit:
        raise PhotoRefused(
            f"The photo is too large ({size / 1024 / 1024:.1f} MB; at most {limit / 1024 / 1024:.1f} MB)."
        )


def photo_storage() -> Storage:
    """The clinical-photo storage, looked up on each use so a test (or a settings change) can swap it."""
    return storages[STORAGE_ALIAS]


def load_default_photo_views(apps=None) -> None:
    """Create the default views that are missing (idempotent): the migration, load_demo and tests call it."""
    model = apps.get_model("plans", "PhotoView") if apps else PhotoView
    for code, name, guidance, position in DEFAULT_VIEWS:
        model.objects.get_or_create(code=code, defaults={"name": name, "guidance": guidance, "position": position})


@dataclass(frozen=True)
class Encoded:
    image: bytes
    thumbnail: bytes
    width: int
    height: int


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    # No exif= and no icc_profile=: Pillow writes no metadata segment unless told to.
    image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def photo_encode(data: bytes) -> Encoded:
    """Decode an upload and re-encode it upright, bounded and without metadata, with its thumbnail."""
    if not data:
        raise PhotoRefused("The photo is empty: take it again or choose a file.")
    photo_check_size(len(data))
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise PhotoRefused(f"That file is a {probe.format} image: take a photo or choose a JPEG, PNG or WebP.")
            if probe.width * probe.height >= MAX_PIXELS:
                raise PhotoRefused("That image has too many pixels to be a photo from the clinic's camera.")
            probe.verify()  # a truncated or corrupt file fails here, before it is decoded
        with Image.open(io.BytesIO(data)) as source:
            upright = ImageOps.exif_transpose(source)
            upright = upright.convert("RGB")
    except PhotoRefused:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise PhotoRefused("That file is not an image the clinic can store: take a photo or choose a JPEG.") from None
    edge = settings.CLINICAL_PHOTO_MAX_EDGE
    upright.thumbnail((edge, edge), Image.Resampling.LANCZOS)
    thumbnail = upright.copy()
    small = settings.CLINICAL_PHOTO_THUMBNAIL_EDGE
    thumbnail.thumbnail((small, small), Image.Resampling.LANCZOS)
    return Encoded(image=_jpeg(upright), thumbnail=_jpeg(thumbnail), width=upright.width, height=upright.height)


def _store(storage: Storage, content: bytes) -> str:
    # A random name that says nothing about the client, the visit or the view.
    return storage.save(f"{secrets.token_hex(2)}/{secrets.token_urlsafe(24)}.jpg", ContentFile(content))


def _delete_files(names: list[str]) -> None:
    storage = photo_storage()
    for name in names:
        storage.delete(name)


def photo_take(
    *, session: PlanSession, view: PhotoView, data: bytes, by: AbstractBaseUser, now: dt.datetime | None = None
) -> Photo:
    """Store one view of a visit's photo set.

    Refused (PhotoRefused, nothing stored) without a photo consent for the clinical record,
    for a visit that does not take photos now, for a retired view, for a file that is not a
    photo, and when this view of this visit was already taken (the database's unique
    constraint decides between two tablets at once; the loser's files are removed)."""
    session = PlanSession.objects.select_related("plan__client").get(pk=session.pk)
    client = session.plan.client
    if client.erased_at is not None:
        raise PhotoRefused("This client was erased: no photos can be added.")
    if not photo_consent_allows(client=client, use=PhotoUse.CLINICAL_RECORD):
        raise PhotoRefused(
            f"{client.full_name} has no photo consent for the clinical record: ask them to sign it "
            "(Consent on the client page) before taking photos. Nothing was stored."
        )
    if reason := session.photo_refusal():
        raise PhotoRefused(reason)
    if not view.active:
        raise PhotoRefused(f"The {view} view is no longer taken.")
    if Photo.objects.filter(session=session, view=view).exists():
        raise PhotoAlreadyTaken(f"The {view} photo of this visit was already taken.")
    encoded = photo_encode(data)
    storage = photo_storage()
    names = [_store(storage, encoded.image), _store(storage, encoded.thumbnail)]
    try:
        with transaction.atomic():
            photo = Photo.objects.create(
                session=session,
                view=view,
                image_name=names[0],
                thumbnail_name=names[1],
                width=encoded.width,
                height=encoded.height,
                byte_size=len(encoded.image),
                sha256=hashlib.sha256(encoded.image).hexdigest(),
                taken_at=now or timezone.now(),
                taken_by=by,
            )
    except IntegrityError:
        # Another tablet stored this view between our check and our insert.
        _delete_files(names)
        raise PhotoAlreadyTaken(f"The {view} photo of this visit was already taken.") from None
    except BaseException:
        _delete_files(names)
        raise
    return photo


def photo_read(photo: Photo, *, thumbnail: bool = False) -> bytes:
    with photo_storage().open(photo.thumbnail_name if thumbnail else photo.image_name, "rb") as stored:
        return stored.read()


def client_photos_delete_on_commit(*, client: Client) -> None:
    """Erasure: once the erasing transaction commits, remove the files of the client's photos
    (their rows are deleted by the erasure itself). Files go only if the erasure stands."""
    names = [
        name
        for pair in Photo.objects.filter(session__plan__client=client).values_list("image_name", "thumbnail_name")
        for name in pair
    ]
    if names:
        transaction.on_commit(lambda: _delete_files(names))
