"""How the clinic looks to its clients, in one place for the emails and the public pages.

Everything comes from settings (CLINIC_NAME, CLINIC_ADDRESS, CLINIC_PHONE, CLINIC_LOGO_URL,
CLINIC_COLOUR), validated at start-up, so a template only ever reads a checked value.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings

# The search page needs no API key and opens on any phone; the address is the query.
MAP_SEARCH_URL = "https://www.openstreetmap.org/search"


@dataclass(frozen=True)
class Brand:
    name: str
    logo_url: str  # absolute, or "" (the name is shown as text instead)
    colour: str  # #rrggbb
    on_colour: str  # the text colour readable on `colour`
    address: str
    phone: str
    map_url: str

    @property
    def ink(self) -> str:
        """The colour for brand-coloured text on white: the brand itself when it is dark enough."""
        return self.colour if self.on_colour == "#ffffff" else "#1f2933"

    @property
    def phone_href(self) -> str:
        return "tel:" + "".join(c for c in self.phone if c.isdigit() or c == "+")


def map_url(address: str) -> str:
    return f"{MAP_SEARCH_URL}?{urlencode({'query': address})}"


def _luminance(colour: str) -> float:
    """WCAG relative luminance of a #rrggbb colour."""

    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i : i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_on(colour: str) -> str:
    """White or near-black, whichever contrasts more with `colour`: a clinic may pick a pastel,
    and white on pastel buttons is unreadable."""
    background = _luminance(colour)
    white = 1.05 / (background + 0.05)
    dark = (background + 0.05) / (_luminance("#1f2933") + 0.05)
    return "#ffffff" if white >= dark else "#1f2933"


def brand() -> Brand:
    return Brand(
        name=settings.CLINIC_NAME,
        logo_url=settings.CLINIC_LOGO_URL,
        colour=settings.CLINIC_COLOUR,
        on_colour=text_on(settings.CLINIC_COLOUR),
        address=settings.CLINIC_ADDRESS,
        phone=settings.CLINIC_PHONE,
        map_url=map_url(settings.CLINIC_ADDRESS),
    )
