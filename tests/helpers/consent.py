"""Consent as tests need it: a real drawn-looking signature PNG, and a client's treatment consent signed
through the service (the version the page would show)."""

from __future__ import annotations

import base64
import io

from PIL import Image, ImageDraw

from plans.consent_defaults import load_default_consents
from plans.models import ConsentKind
from plans.services import consent as consent_services


def signature_png(width: int = 600, height: int = 200, *, ink: bool = True) -> bytes:
    """A transparent PNG with a pen stroke across it (or none, for a blank box)."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    if ink:
        draw = ImageDraw.Draw(image)
        points = [(40, 150), (120, 60), (200, 140), (280, 50), (360, 150), (440, 70), (540, 120)]
        draw.line(points, fill=(17, 17, 17, 255), width=5, joint="curve")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def sign_in_clinic(client, witness, *, kind: str = ConsentKind.TREATMENT, photo_uses=(), now=None):
    # Transactional tests (live server, workers) flush the forms the migration shipped: load them again.
    load_default_consents()
    version = consent_services.current_version(kind)
    return consent_services.consent_sign_in_clinic(
        client=client,
        kind=kind,
        version_id=version.pk,
        signature_png=signature_png(),
        witness=witness,
        photo_uses=photo_uses,
        ip_address="192.0.2.10",
        user_agent="Test tablet",
        now=now,
    )
