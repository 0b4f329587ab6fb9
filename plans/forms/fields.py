"""Which dates and times the app accepts: the one place that says so.

Python's dates end at 0001-01-01 and 9999-12-31, and a day's arithmetic near either end
(the next day, the clinic's midnight in UTC, a week's bookings around it) overflows.
Nothing a clinic books or plans lies more than a few years from today, so every date and
time from a user (form fields, GET parameters, JSON sent back by the calendar) is held
to YEARS_BACK before and YEARS_AHEAD after today, and refused with a clear message otherwise.
"""

from __future__ import annotations

import datetime as dt
import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

# Nothing is booked or planned further ahead than this.
YEARS_AHEAD = 5
# Looking back: the calendar and day list show a decade of records, and a plan start in
# the past gets the form's own "in the past" message rather than a range error. The
# booking rules refuse past times anyway.
YEARS_BACK = 10
# Ids a database key can hold (PostgreSQL bigint / SQLite INTEGER): larger ones overflow the driver.
MAX_ID = 2**63 - 1
_ASCII_ID = re.compile(r"[0-9]{1,19}")


def date_range(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The first and last date the app accepts."""
    today = today or timezone.localdate()
    year = dt.timedelta(days=365.25)
    return today - YEARS_BACK * year, today + YEARS_AHEAD * year


def check_date(day: dt.date) -> dt.date:
    first, last = date_range()
    if not first <= day <= last:
        raise ValidationError(f"Choose a date between {first:%d %b %Y} and {last:%d %b %Y}.", code="out_of_range")
    return day


def _readable(raw: str) -> str:
    if "\x00" in raw or not raw.isascii():
        raise ValidationError("Enter a date as YYYY-MM-DD.", code="invalid")
    return raw


def parse_date_param(raw: str | None, *, default: dt.date | None = None) -> dt.date:
    """A date from a GET parameter (YYYY-MM-DD, or the date part of an ISO time, as the
    calendar library sends it). Missing: `default` (today if None). Unreadable or out of
    range: ValidationError, which views answer with 400."""
    if not raw:
        return default or timezone.localdate()
    try:
        day = dt.date.fromisoformat(_readable(raw)[:10])
    except ValueError as exc:
        raise ValidationError(f"{raw[:40]!r} is not a date: use YYYY-MM-DD.", code="invalid") from exc
    return check_date(day)


def parse_id_param(raw: str | None) -> int | None:
    """A row id from a GET parameter, or None if absent. ASCII digits only: "²".isdigit()
    is true, but int() refuses it."""
    if not raw:
        return None
    if not _ASCII_ID.fullmatch(raw) or not 0 < int(raw) <= MAX_ID:
        raise ValidationError(f"{raw[:40]!r} is not an id.", code="invalid")
    return int(raw)


def parse_aware(value) -> dt.datetime:
    """An ISO time with an offset, within range (JSON sent back by the browser): ValueError otherwise.

    A naive time has no single meaning around a clock change, and one near year 1 or
    9999 overflows as soon as it is converted to the clinic's zone."""
    if not isinstance(value, str) or "\x00" in value or not value.isascii():
        raise ValueError("not a time")
    moment = dt.datetime.fromisoformat(value)
    if timezone.is_naive(moment):
        raise ValueError("time without an offset")
    first, last = date_range()
    # The local date is compared, with a day's slack either way for the offset: converting
    # to UTC first overflows at the edges (0001-01-01T00:00+14:00 is in year 0).
    if not first < moment.date() < last:
        raise ValueError("time out of range")
    return moment


class BoundedDateField(forms.DateField):
    """A date within date_range()."""

    def clean(self, value):
        if isinstance(value, str) and ("\x00" in value or not value.isascii()):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        day = super().clean(value)
        return check_date(day) if day is not None else day


class BoundedLocalDateTimeField(forms.DateTimeField):
    """A wall-clock time in the clinic's zone, as the calendar sends it (2027-03-01T09:00),
    within date_range(); cleaned to an aware time."""

    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]

    def to_python(self, value):
        if isinstance(value, str) and ("\x00" in value or not value.isascii()):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        moment = super().to_python(value)
        if moment is None:
            return moment
        # Checked before the zone is attached: making 9999-12-31 23:30 aware overflows.
        check_date(moment.date())
        return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
