"""Consent writes: revising a form, signing (in the clinic or from the emailed link), withdrawing.

A signature stores the exact text the client saw (and its SHA-256), the version it belongs to,
the drawn signature as a checked PNG, when, from which address and browser, and who witnessed
it (nobody for a remote one). Signatures and versions are never changed; a withdrawal is a row
of its own. The client's `treatment_consent_withdrawn_at` is kept in step here, so sessions
answer "may this be booked or completed?" from rows already loaded (PlanSession.refusal).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import io
import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image, ImageOps, UnidentifiedImageError

from plans.models import (
    Client,
    ConsentKind,
    ConsentTemplate,
    ConsentVersion,
    ConsentWithdrawal,
    Message,
    MessageKind,
    PhotoUse,
    SignedConsent,
)

log = logging.getLogger(__name__)

# A signature pad's PNG at tablet size is 10-60 KB; anything far larger is not a signature.
MAX_SIGNATURE_BYTES = 300_000
MAX_SIGNATURE_SIDE = 3000
MIN_SIGNATURE_SIDE = 50
# Dark pixels a real signature leaves at the least: a dot or a stray tap is not a signature.
MIN_INK_PIXELS = 150
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ConsentRefused(Exception):
    """The consent cannot be signed or withdrawn as asked; the message says why, `code` for programs."""

    def __init__(self, message: str, *, code: str = "refused"):
        self.code = code
        super().__init__(message)


# --- The form's versions -----------------------------------------------------------------------


def consent_template_revise(*, template: ConsentTemplate, title: str, body: str, by=None) -> ConsentVersion:
    """Save an edit of the form as its next version; an unchanged text makes no version."""
    title, body = title.strip(), body.strip()
    if not title or not body:
        raise ConsentRefused("A consent form needs a title and its text.")
    with transaction.atomic():
        template = ConsentTemplate.objects.select_for_update().get(pk=template.pk)
        current = template.current_version
        if current is not None and current.title == title and current.body.strip() == body:
            return current
        number = current.number + 1 if current else 1
        version = ConsentVersion.objects.create(template=template, number=number, title=title, body=body, created_by=by)
    log.info("consent form %s: version %s by %s", template.kind, number, by)
    return version


def current_version(kind: str) -> ConsentVersion:
    version = ConsentVersion.objects.filter(template__kind=kind).select_related("template").order_by("-number").first()
    if version is None:
        raise ConsentRefused(f"There is no {ConsentKind(kind).label.lower()} form: a clinic admin must add one.")
    return version


def signed_text(version: ConsentVersion, photo_uses: list[str]) -> str:
    """The exact text a signature agrees to: the version's wording and, for photos, each use's answer."""
    text = f"{version.title}\n\n{version.body.strip()}\n"
    if version.template.kind == ConsentKind.PHOTO:
        lines = [f"[{'x' if use.value in photo_uses else ' '}] {use.label}" for use in PhotoUse]
        text += "\nMy choices:\n" + "\n".join(lines) + "\n"
    return text


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- The drawn signature ---------------------------------------------------------------------------


def signature_from_data_url(value: str) -> bytes:
    """The PNG bytes of a signature pad's `data:image/png;base64,...`; ConsentRefused otherwise."""
    prefix = "data:image/png;base64,"
    if not value or not value.startswith(prefix):
        raise ConsentRefused("Please sign in the box before submitting.", code="no_signature")
    try:
        data = base64.b64decode(value[len(prefix) :], validate=True)
    except (binascii.Error, ValueError):
        raise ConsentRefused("The signature could not be read: please sign again.", code="bad_signature") from None
    return check_signature_png(data)


def check_signature_png(data: bytes) -> bytes:
    """A real PNG, of bounded size, with enough ink to be a signature (not a blank box or a dot)."""
    if len(data) > MAX_SIGNATURE_BYTES:
        raise ConsentRefused("The signature image is too large: please sign again.", code="bad_signature")
    if not data.startswith(PNG_MAGIC):
        raise ConsentRefused("The signature must be a PNG image drawn in the box.", code="bad_signature")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            probe.verify()  # the checksums and structure, without decoding the pixels
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "PNG":
                raise ConsentRefused("The signature must be a PNG image.", code="bad_signature")
            width, height = image.size
            if not (
                MIN_SIGNATURE_SIDE <= width <= MAX_SIGNATURE_SIDE and MIN_SIGNATURE_SIDE <= height <= MAX_SIGNATURE_SIDE
            ):
                raise ConsentRefused(
                    "The signature box has an unexpected size: please sign again.", code="bad_signature"
                )
            rgba = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ConsentRefused("The signature image is damaged: please sign again.", code="bad_signature") from None
    # Ink is what stays dark on white: a transparent or white image has none.
    flat = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("L")
    ink = sum(ImageOps.invert(flat).point(lambda v: 255 if v > 96 else 0).histogram()[255:])
    if ink < MIN_INK_PIXELS:
        raise ConsentRefused(
            "The signature box is empty: please sign with your finger or the stylus.", code="no_signature"
        )
    return data


# --- Signing -----------------------------------------------------------------------------------------


def _sync_withdrawn_flag(client: Client, now: dt.datetime) -> None:
    """Withdrawn while the newest treatment signature is withdrawn (signing again clears it)."""
    newest = SignedConsent.objects.newest(client_id=client.pk, kind=ConsentKind.TREATMENT)
    withdrawn = newest.withdrawal.withdrawn_at if newest is not None and newest.is_withdrawn else None
    if client.treatment_consent_withdrawn_at != withdrawn:
        Client.objects.filter(pk=client.pk).update(treatment_consent_withdrawn_at=withdrawn, updated_at=now)
        client.treatment_consent_withdrawn_at = withdrawn


def _cancel_open_requests(client: Client, reason: str) -> None:
    for message in Message.objects.select_for_update().filter(client=client, kind=MessageKind.CONSENT_REQUEST):
        if message.is_open:
            message.cancel(reason)
            message.save()


def _clean_uses(kind: str, photo_uses) -> list[str]:
    uses = sorted(set(photo_uses or ()))
    if kind != ConsentKind.PHOTO:
        if uses:
            raise ConsentRefused("Only the photo consent has uses to choose.")
        return []
    unknown = [u for u in uses if u not in PhotoUse.values]
    if unknown:
        raise ConsentRefused(f"Unknown photo use {unknown[0]!r}.")
    return uses


def _sign(
    *,
    client: Client,
    version_id: int,
    kind: str,
    signature_png: bytes,
    photo_uses,
    ip_address: str | None,
    user_agent: str,
    now: dt.datetime,
    via: str,
    witness=None,
    request_message_id: int | None = None,
) -> SignedConsent:
    png = check_signature_png(signature_png)
    uses = _clean_uses(kind, photo_uses)
    client = Client.objects.select_for_update().get(pk=client.pk)
    if client.erased_at is not None:
        raise ConsentRefused("This client's record was erased.")
    version = current_version(kind)
    if version.pk != version_id:
        # The form changed between reading and signing: nobody signs a text they did not see.
        raise ConsentRefused(
            "The consent form was updated while it was open: please read the new version and sign again.",
            code="version_changed",
        )
    text = signed_text(version, uses)
    try:
        with transaction.atomic():
            consent = SignedConsent.objects.create(
                client=client,
                version=version,
                kind=kind,
                text=text,
                text_sha256=text_sha256(text),
                photo_uses=uses,
                signature_png=png,
                signed_at=now,
                ip_address=ip_address or None,
                user_agent=(user_agent or "")[:500],
                via=via,
                witness=witness,
                request_message_id=request_message_id,
            )
    except IntegrityError:
        if (
            request_message_id is not None
            and SignedConsent.objects.filter(request_message_id=request_message_id).exists()
        ):
            raise ConsentRefused("This link has already been used to sign.", code="link_used") from None
        raise
    if kind == ConsentKind.TREATMENT:
        _sync_withdrawn_flag(client, now)
        _cancel_open_requests(client, "The client signed the treatment consent.")
    log.info("consent %s signed (%s) for client %s, version %s", consent.pk, via, client.pk, version.pk)
    return consent


def consent_sign_in_clinic(
    *,
    client: Client,
    kind: str,
    version_id: int,
    signature_png: bytes,
    witness: AbstractBaseUser,
    photo_uses=(),
    ip_address: str | None = None,
    user_agent: str = "",
    now: dt.datetime | None = None,
) -> SignedConsent:
    """The client signed on the clinic's tablet; the logged-in staff member witnessed it."""
    if kind not in ConsentKind.values:
        raise ConsentRefused(f"Unknown consent {kind!r}.")
    with transaction.atomic():
        return _sign(
            client=client,
            version_id=version_id,
            kind=kind,
            signature_png=signature_png,
            photo_uses=photo_uses,
            ip_address=ip_address,
            user_agent=user_agent,
            now=now or timezone.now(),
            via=SignedConsent.Via.CLINIC,
            witness=witness,
        )


def remote_refusal(message: Message) -> str:
    """Why the emailed link cannot sign now ("" when it can). One rule for the page and the POST."""
    used = SignedConsent.objects.filter(request_message_id=message.pk).first()
    if used is not None:
        return f"This link was already used: the consent was signed on {timezone.localtime(used.signed_at):%d %B %Y}."
    if message.kind != MessageKind.CONSENT_REQUEST:
        return "This link is not a consent link."
    if message.client.erased_at is not None:
        return "This link no longer works."
    return ""


def consent_sign_remote(
    *,
    message: Message,
    version_id: int,
    signature_png: bytes,
    ip_address: str | None,
    user_agent: str,
    now: dt.datetime | None = None,
) -> SignedConsent:
    """The client signed the treatment consent from the emailed link: once per link, no witness."""
    with transaction.atomic():
        # The message row is the link's lock: two submits of one link queue here, and the
        # second finds the first's signature (the unique request id holds even without it).
        message = Message.objects.select_for_update(of=("self",)).select_related("client").get(pk=message.pk)
        if refusal := remote_refusal(message):
            raise ConsentRefused(refusal, code="link_used")
        return _sign(
            client=message.client,
            version_id=version_id,
            kind=ConsentKind.TREATMENT,
            signature_png=signature_png,
            photo_uses=(),
            ip_address=ip_address,
            user_agent=user_agent,
            now=now or timezone.now(),
            via=SignedConsent.Via.REMOTE,
            request_message_id=message.pk,
        )


# --- Withdrawing -------------------------------------------------------------------------------------


def consent_withdraw(
    *, consent: SignedConsent, by: AbstractBaseUser | None, reason: str = "", now: dt.datetime | None = None
) -> ConsentWithdrawal:
    """Withdraw a signed consent: by staff (`by`, who heard it from the client) or by the client (`by` None).

    A withdrawn treatment consent stops microneedling being booked or completed until the
    client signs again; sessions already booked stay for the clinic to talk over and cancel."""
    now = now or timezone.now()
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=consent.client_id)
        consent = SignedConsent.objects.select_related("withdrawal").get(pk=consent.pk)
        if consent.is_withdrawn:
            when = timezone.localtime(consent.withdrawal.withdrawn_at)
            raise ConsentRefused(f"This consent was already withdrawn on {when:%d %b %Y}.", code="already_withdrawn")
        if by is not None and not reason.strip():
            raise ConsentRefused("Record how the client withdrew their consent (e.g. 'by phone, 3 May').")
        try:
            with transaction.atomic():
                withdrawal = ConsentWithdrawal.objects.create(
                    consent=consent,
                    withdrawn_at=now,
                    via=ConsentWithdrawal.Via.STAFF if by is not None else ConsentWithdrawal.Via.CLIENT,
                    recorded_by=by,
                    reason=reason.strip()[:500],
                )
        except IntegrityError:
            raise ConsentRefused("This consent was already withdrawn.", code="already_withdrawn") from None
        if consent.kind == ConsentKind.TREATMENT:
            _sync_withdrawn_flag(client, now)
    log.info("consent %s withdrawn (by %s)", consent.pk, by or "the client")
    return withdrawal


def consent_withdraw_from_link(*, message: Message, now: dt.datetime | None = None) -> ConsentWithdrawal:
    """The client withdrew their treatment consent with the link in the consent email."""
    consent = SignedConsent.objects.current(client_id=message.client_id, kind=ConsentKind.TREATMENT)
    if consent is None:
        raise ConsentRefused("There is no treatment consent in force to withdraw.", code="nothing_to_withdraw")
    return consent_withdraw(consent=consent, by=None, reason="With the link in the consent email.", now=now)
