"""The emails look like the clinic and read as well in plain text: one branded layout whose CSS is
inlined (mail clients drop style sheets), a button per action in the brand colour, the address with
a map link, and times written for a person in the clinic's zone."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from html.parser import HTMLParser
from urllib.parse import quote_plus

import pytest
import time_machine
from django.conf import settings

from plans.branding import text_on
from plans.outbox.kinds import FAMILIES
from plans.outbox.timing import local_day, local_when
from tests.helpers.clock import local
from tests.helpers.emails import html_of, one_message_per_family, rendered

UTC = dt.UTC


# --- The one formatter ----------------------------------------------------------------------------


def test_a_time_this_year_reads_as_a_person_writes_it_with_no_zone_name():
    now = local(2026, 3, 3, 8)
    assert local_when(local(2026, 3, 3, 9), now=now) == "Tuesday 3 March at 09:00"  # today
    assert local_when(local(2026, 11, 24, 16, 30), now=now) == "Tuesday 24 November at 16:30"


def test_the_year_is_written_only_when_it_is_not_the_current_one():
    now = local(2026, 11, 20, 12)
    assert local_when(local(2027, 1, 5, 9), now=now) == "Tuesday 5 January 2027 at 09:00"
    assert local_when(local(2025, 12, 30, 9), now=now) == "Tuesday 30 December 2025 at 09:00"
    assert local_day(dt.date(2027, 3, 2), now=now) == "Tuesday 2 March 2027"
    assert local_day(dt.date(2026, 12, 1), now=now) == "Tuesday 1 December"


def test_the_current_year_is_the_clinics_not_utcs(settings):
    # 23:30 UTC on New Year's Eve is already 2027 in Tokyo: a 2027 appointment needs no year there.
    now = dt.datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    moment = dt.datetime(2027, 1, 4, 0, 0, tzinfo=UTC)
    assert local_when(moment, now=now) == "Monday 4 January 2027 at 00:00"  # London
    settings.CLINIC_TIME_ZONE = "Asia/Tokyo"
    assert local_when(moment, now=now) == "Monday 4 January at 09:00"


def test_a_0900_appointment_reads_0900_on_both_sides_of_each_clock_change():
    now = local(2026, 1, 5, 10)
    # London: GMT until 29 March 2026 01:00 UTC, BST until 25 October 01:00 UTC.
    assert local_when(dt.datetime(2026, 3, 28, 9, tzinfo=UTC), now=now) == "Saturday 28 March at 09:00"
    assert local_when(dt.datetime(2026, 3, 30, 8, tzinfo=UTC), now=now) == "Monday 30 March at 09:00"
    assert local_when(dt.datetime(2026, 10, 24, 8, tzinfo=UTC), now=now) == "Saturday 24 October at 09:00"
    assert local_when(dt.datetime(2026, 10, 26, 9, tzinfo=UTC), now=now) == "Monday 26 October at 09:00"


def test_without_a_now_the_year_follows_the_clock():
    with time_machine.travel(local(2026, 6, 1, 12), tick=False):
        assert local_when(local(2026, 7, 1, 9)) == "Wednesday 1 July at 09:00"
        assert local_when(local(2027, 7, 1, 9)) == "Thursday 1 July 2027 at 09:00"


# --- Settings --------------------------------------------------------------------------------------


SETUP = "import os, django; os.environ['DJANGO_SETTINGS_MODULE']='clinic.settings'; django.setup()"


def _start_up(then: str = "", **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", f"{SETUP}; {then}" if then else SETUP],
        env={"PATH": "/usr/bin:/bin", "DEBUG": "true", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "name, value",
    [
        ("CLINIC_COLOUR", "teal"),
        ("CLINIC_COLOUR", "#12345"),
        ("CLINIC_COLOUR", "#0f766e; background: url(x)"),
        ("CLINIC_LOGO_URL", "/static/logo.png"),
        ("CLINIC_LOGO_URL", 'https://cdn.example/logo.png" onerror="x'),
    ],
)
def test_a_bad_brand_setting_stops_start_up_naming_the_variable(name, value):
    result = _start_up(**{name: value})
    assert result.returncode != 0 and "ImproperlyConfigured" in result.stderr and name in result.stderr


def test_brand_settings_default_to_a_calm_teal_and_no_logo_and_a_short_colour_is_expanded():
    assert settings.CLINIC_COLOUR == "#0f766e" and settings.CLINIC_LOGO_URL == ""
    shown = _start_up("from django.conf import settings; print(settings.CLINIC_COLOUR)", CLINIC_COLOUR="#AbC")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == "#aabbcc"


def test_a_logo_url_lets_that_origin_and_only_it_into_the_pages_image_policy():
    code = "from django.conf import settings; print(settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src'])"
    shown = _start_up(code, CLINIC_LOGO_URL="https://cdn.clinic.example/brand/logo.png")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == str(["'self'", "data:", "https://cdn.clinic.example"])


def test_button_text_is_white_on_a_dark_brand_and_dark_on_a_pastel_one():
    assert text_on("#0f766e") == "#ffffff"
    assert text_on("#1d4ed8") == "#ffffff"
    assert text_on("#fde68a") != "#ffffff"
    assert text_on("#ffffff") != "#ffffff"


# --- Every family's email ---------------------------------------------------------------------------


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def _parse(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


def _without_media_rules(css: str) -> str:
    """What is left of a style sheet once its @media blocks (one level of nesting) are removed."""
    return re.sub(r"@media[^{]*\{(?:[^{}]*\{[^{}]*\})*\s*\}", "", css).strip()


TRICKY_ADDRESS = "Flat 2, 10 Rue & Co, Paris #3"


@pytest.fixture
def emails(db, settings):
    settings.CLINIC_ADDRESS = TRICKY_ADDRESS
    settings.CLINIC_COLOUR = "#8a2be2"
    return {family: rendered(message) for family, message in one_message_per_family().items()}


def test_every_familys_html_has_its_css_inlined_and_its_buttons_in_the_brand_colour(emails):
    assert set(emails) == set(FAMILIES)
    for family, email in emails.items():
        parsed = _parse(html_of(email))
        # Only @media rules stay in the head (they cannot be inlined); every other rule was copied
        # onto its elements, so nothing relies on a class for its colour in a client that strips <style>.
        assert all(_without_media_rules(css) == "" for css in parsed.styles), (family, parsed.styles)
        assert not [a for tag, a in parsed.elements if tag == "link"], family
        classed = [(tag, a) for tag, a in parsed.elements if a.get("class")]
        assert classed, family
        assert all(a.get("style") for tag, a in classed), (family, [a for tag, a in classed if not a.get("style")])
        header = next(a for tag, a in parsed.elements if "header" in a.get("class", "").split())
        assert "background-color: #8a2be2" in header["style"], family
        buttons = [a for tag, a in parsed.elements if "button" in a.get("class", "").split()]
        assert buttons, f"{family} offers no button"
        for button in buttons:
            assert "#8a2be2" in button["style"] and "text-decoration: none" in button["style"], (family, button)


def test_every_email_links_the_address_to_a_map_and_gives_the_phone(emails):
    expected = "https://www.openstreetmap.org/search?query=" + quote_plus(TRICKY_ADDRESS)
    assert expected.endswith("query=Flat+2%2C+10+Rue+%26+Co%2C+Paris+%233")
    for family, email in emails.items():
        hrefs = [a.get("href") for tag, a in _parse(html_of(email)).elements if tag == "a"]
        assert expected in hrefs, family
        assert "tel:+442079460000" in hrefs, family
        assert f"Map: {expected}" in email.body and TRICKY_ADDRESS in email.body, family
        assert f"Phone: {settings.CLINIC_PHONE}" in email.body, family


def test_the_plain_text_part_holds_every_link_of_the_html_each_labelled_on_its_own_line(emails):
    for family, email in emails.items():
        parsed = _parse(html_of(email))
        links = [a for tag, a in parsed.elements if tag == "a"]
        lines = email.body.splitlines()
        for link in links:
            href = link["href"]
            if href.startswith("tel:"):
                continue
            # A URL on a line of its own after its label ("Confirm you will attend: https://..."), never
            # in the middle of a sentence.
            assert any(line.strip().endswith(href) and ": " in line for line in lines), (family, href)
        for button in (a for a in links if "button" in a.get("class", "").split()):
            assert any(line.strip().endswith(button["href"]) for line in lines), (family, button)
        assert "<" not in email.body.replace("<https", ""), family  # no HTML leaked into the text


def test_a_reminder_offers_confirm_check_manage_and_cancel_buttons_and_states_the_cut_off(emails):
    email = emails["reminder"]
    parsed = _parse(html_of(email))
    html = html_of(email)
    labels = re.findall(r'class="button[^"]*"[^>]*>([^<]+)</a>', html)
    assert labels == [
        "Confirm you will attend",
        "Answer the pre-visit questions",
        "Manage your appointments",
        "Cancel this appointment",
    ]
    hrefs = [a["href"] for tag, a in parsed.elements if "button" in a.get("class", "").split()]
    for path, href in zip(("/e/confirm/", "/e/check/", "/e/page/", "/e/cancel/"), hrefs, strict=True):
        assert path in href
    assert f"up to {settings.CANCELLATION_CUTOFF_HOURS} hours before" in email.body
    assert "Tuesday 20 January at 09:00" in email.subject and "(Europe/London time)" not in email.body


def test_the_consent_request_makes_signing_the_button_and_keeps_withdrawal_as_a_labelled_link(emails):
    email = emails["consent_request"]
    html = html_of(email)
    (sign,) = re.findall(r'class="button"[^>]*href="([^"]+)"[^>]*>Read and sign your consent<', html) or re.findall(
        r'href="([^"]+)"[^>]*class="button"[^>]*>Read and sign your consent<', html
    )
    assert "/e/consent/" in sign and f"Read and sign your consent: {sign}" in email.body
    assert "withdraw your consent at any time: " in email.body and "/e/withdraw/" in email.body


def test_a_cancelled_appointment_offers_no_confirm_or_cancel_only_the_clients_page(emails):
    email = emails["cancellation"]
    assert "/e/confirm/" not in email.body and "/e/cancel/" not in email.body
    assert "Manage your appointments: " in email.body


def test_the_header_shows_the_logo_when_one_is_set_and_the_clinic_name_otherwise(db, settings):
    messages = one_message_per_family()
    header = re.compile(r'<td class="header"[^>]*>(.*?)</td>', re.S)
    assert header.search(html_of(rendered(messages["reminder"])))[1].strip() == settings.CLINIC_NAME
    settings.CLINIC_LOGO_URL = "https://clinic.example/logo.png"
    shown = header.search(html_of(rendered(messages["reminder"])))[1]
    (img,) = [a for tag, a in _parse(shown).elements if tag == "img"]
    assert img["src"] == "https://clinic.example/logo.png" and img["alt"] == settings.CLINIC_NAME
    assert "max-width: 240px" in img["style"]
