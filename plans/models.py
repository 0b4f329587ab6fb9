"""The clinic's data: clients and their screening, staff and rooms, protocols, plans and their sessions.

Rules that must never be broken in storage are database constraints here; rules
about how a plan is made live in planning.py (pure), and every write goes through
plans/services/.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from plans import safety
from plans.planning import ProtocolParams


class JSONArrayLength(models.Func):
    """Length of a JSON array, portable between SQLite and PostgreSQL (used in a check constraint)."""

    function = "json_array_length"
    output_field = models.IntegerField()

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="jsonb_array_length", **extra_context)


def mm(value) -> str:
    """A depth as staff write it: 1.5 -> "1.5", Decimal("1.50") -> "1.5", 1 -> "1.0"."""
    text = f"{Decimal(str(value)):.2f}"
    return text[:-1] if text.endswith("0") else text


# --- Vocabulary -----------------------------------------------------------------------


class Fitzpatrick(models.IntegerChoices):
    I = 1, "I"  # noqa: E741 - the Fitzpatrick scale is written in roman numerals
    II = 2, "II"
    III = 3, "III"
    IV = 4, "IV"
    V = 5, "V"
    VI = 6, "VI"


class Oiliness(models.TextChoices):
    DRY = "dry", "Dry"
    NORMAL = "normal", "Normal"
    COMBINATION = "combination", "Combination"
    OILY = "oily", "Oily / acne-prone"


class Severity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


# --- Clients and screening ----------------------------------------------------------------


class Client(models.Model):
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    date_of_birth = models.DateField()
    fitzpatrick = models.PositiveSmallIntegerField("Fitzpatrick type", choices=Fitzpatrick.choices)
    oiliness = models.CharField(max_length=20, choices=Oiliness.choices)
    pore_concern = models.CharField("pore concern", max_length=20, choices=Severity.choices)
    email_consent = models.BooleanField(
        "consents to email", default=False, help_text="Reminders and care notes are only emailed with consent."
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    erased_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Set when the client's personal data was erased."
    )
    # Kept in step with the SignedConsent and ConsentWithdrawal rows by services/consent.py, so the
    # allowed actions of every session (calendar JSON included) are answered without a query per session.
    treatment_consent_withdrawn_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="Set while the client's newest treatment consent is withdrawn: microneedling stops.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(fitzpatrick__gte=1, fitzpatrick__lte=6), name="client_fitzpatrick_1_6"),
            models.CheckConstraint(condition=Q(oiliness__in=Oiliness.values), name="client_oiliness_valid"),
            models.CheckConstraint(condition=Q(pore_concern__in=Severity.values), name="client_pore_concern_valid"),
        ]
        indexes = [models.Index(fields=["last_name", "first_name"]), models.Index(fields=["email"])]
        # What model permissions cannot say; the roles (plans/roles.py) grant them.
        permissions = [
            ("view_clinical_record", "Can view clinical records (screening answers, clinical notes)"),
            ("book_sessions", "Can book, reschedule and cancel sessions"),
            ("export_client_data", "Can export all data held about a client"),
            ("erase_client", "Can erase (anonymise) a client"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def age_on(self, day: dt.date) -> int:
        born = self.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    @property
    def can_be_emailed(self) -> bool:
        return bool(self.email) and self.email_consent


class ScreeningQuestion(models.Model):
    """One contraindication question asked at intake. The catalogue is data an admin edits."""

    code = models.SlugField(max_length=50, unique=True, help_text="Stable identifier used by protocol rules.")
    text = models.CharField(max_length=255, help_text="The question as the aesthetician reads it out.")
    help_text = models.CharField(max_length=255, blank=True)
    asks_date = models.BooleanField(
        default=False,
        help_text="When answered yes, also ask for the date it last happened (e.g. last isotretinoin dose).",
    )
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text

    def clean(self) -> None:
        if self.asks_date or self.pk is None:
            return
        windowed = self.rules.filter(window_amount__isnull=False).select_related("protocol")
        if names := sorted({rule.protocol.name for rule in windowed}):
            raise ValidationError(
                {
                    "asks_date": "Protocols time a window from this question's date ("
                    + ", ".join(names)
                    + "): keep asking for the date, or remove those windows first."
                }
            )


class Screening(models.Model):
    """A dated contraindication screen of a client. The newest one is the client's current screen."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="screenings")
    screened_on = models.DateField(default=timezone.localdate)
    screened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    notes = models.TextField(blank=True)
    # A screen is a record, never a draft: a correction is a new screen that says what it corrects and why.
    corrects = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="corrected_by")
    correction_reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-screened_on", "-id"]
        get_latest_by = ["screened_on", "id"]
        constraints = [
            # A screen is corrected once: a second correction of it would be made from answers
            # that no longer stand (two people correcting at once make one correction).
            models.UniqueConstraint(
                fields=["corrects"], condition=Q(corrects__isnull=False), name="one_correction_per_screening"
            ),
        ]

    def __str__(self) -> str:
        return f"Screening of {self.client} on {self.screened_on:%d %b %Y}"

    # What a screen records; only its free-text notes may change later (erasure blanks them).
    RECORDED_FIELDS = ("client_id", "screened_on", "screened_by_id", "corrects_id", "correction_reason")

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            stored = Screening.objects.filter(pk=self.pk).values(*self.RECORDED_FIELDS).first()
            if stored and any(stored[f] != getattr(self, f) for f in self.RECORDED_FIELDS):
                raise ScreeningImmutable(
                    "A saved screening cannot be re-dated or re-credited: record a correction (a new screening)."
                )
        super().save(*args, **kwargs)


class ScreeningImmutable(Exception):
    """Someone tried to change a recorded screening answer in place."""


class ScreeningAnswer(models.Model):
    screening = models.ForeignKey(Screening, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(ScreeningQuestion, on_delete=models.PROTECT, related_name="+")
    answer = models.BooleanField()
    last_date = models.DateField(null=True, blank=True, help_text="When it last happened, for dated questions.")

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["screening", "question"], name="one_answer_per_question"),
            models.CheckConstraint(condition=Q(last_date__isnull=True) | Q(answer=True), name="date_only_with_yes"),
        ]

    def __str__(self) -> str:
        return f"{self.question.code}: {'yes' if self.answer else 'no'}"

    def save(self, *args, **kwargs) -> None:
        # Reproduced: a dated pregnancy "yes" was turned into "no" in place, still credited to the
        # original screener. An answer is written once; a correction is a new screening.
        if self.pk is not None:
            raise ScreeningImmutable(
                "A saved screening answer cannot be changed: record a correction (a new screening with a reason)."
            )
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.last_date is None:
            return
        if not self.answer:
            raise ValidationError({"last_date": "Only give a date when the answer is yes."})
        if self.last_date > timezone.localdate():
            raise ValidationError({"last_date": "The date it last happened cannot be in the future."})


# --- Staff, rooms, availability --------------------------------------------------------------


def _new_feed_token() -> str:
    return secrets.token_urlsafe(32)


class Practitioner(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="practitioner")
    display_name = models.CharField(max_length=100)
    color = models.CharField(max_length=7, default="#2f6f8f", help_text="Calendar colour, e.g. #2f6f8f.")
    active = models.BooleanField(default=True)
    feed_token = models.CharField(
        max_length=64, unique=True, default=_new_feed_token, help_text="Secret for the iCalendar feed URL."
    )

    history = HistoricalRecords(excluded_fields=["feed_token"])

    class Meta:
        ordering = ["display_name", "id"]

    def __str__(self) -> str:
        return self.display_name


class Room(models.Model):
    name = models.CharField(max_length=100, unique=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class WorkingHours(models.Model):
    """A practitioner's weekly hours, as wall-clock times in the clinic's zone."""

    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField()

    class Meta:
        ordering = ["practitioner", "weekday", "start"]
        verbose_name_plural = "working hours"
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="working_hours_end_after_start"),
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="working_hours_weekday_0_6"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"

    def clean(self) -> None:
        if self.start and self.end and self.end <= self.start:
            raise ValidationError(
                {"end": f"The working day must end after it starts ({self.start:%H:%M} to {self.end:%H:%M})."}
            )


class TimeOff(models.Model):
    """A period when a practitioner, a room, or (with neither) the whole clinic is unavailable."""

    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.CASCADE, null=True, blank=True, related_name="time_off"
    )
    room = models.ForeignKey(Room, on_delete=models.CASCADE, null=True, blank=True, related_name="closures")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["starts_at"]
        verbose_name = "time off / closure"
        verbose_name_plural = "time off and closures"
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="time_off_ends_after_start"),
            models.CheckConstraint(
                condition=Q(practitioner__isnull=True) | Q(room__isnull=True), name="time_off_one_subject"
            ),
        ]
        indexes = [models.Index(fields=["starts_at", "ends_at"])]

    def __str__(self) -> str:
        who = self.practitioner or self.room or "Whole clinic"
        return (
            f"{who}: {timezone.localtime(self.starts_at):%d %b %H:%M} - {timezone.localtime(self.ends_at):%d %b %H:%M}"
        )

    def clean(self) -> None:
        errors = {}
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            errors["ends_at"] = "The time off must end after it starts."
        if self.practitioner_id and self.room_id:
            errors["room"] = "Choose a practitioner or a room, not both (leave both empty to close the whole clinic)."
        if errors:
            raise ValidationError(errors)


# --- Protocols -------------------------------------------------------------------------------


class SafetyException(models.Model):
    """A clinic-wide exception to the safety floor's maximum depth, with the reason it was allowed.

    The only floor limit a clinic may raise (plans/safety.py); audited, and switched off rather
    than deleted so the history says when it applied.
    """

    max_depth_mm = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("1.5")), MaxValueValidator(Decimal("3.0"))],
        help_text="The clinic's maximum needle depth in mm instead of the floor's 1.5 mm.",
    )
    reason = models.TextField(help_text="Why (e.g. the device and its instructions for use); shown with the limit.")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Maximum depth {mm(self.max_depth_mm)} mm: {self.reason[:60]}"

    def clean(self) -> None:
        if not self.reason.strip():
            raise ValidationError({"reason": "Record why the clinic allows a deeper maximum."})

    @classmethod
    def in_force(cls) -> models.QuerySet:
        """The exceptions that apply, the one that counts (the deepest active, then the newest) first."""
        return cls.objects.filter(active=True).order_by("-max_depth_mm", "-id")


def floor_with(depth_mm, reason: str | None) -> safety.Floor:
    """The clinic floor, raised to an exception's depth when there is one (depth None: none)."""
    if depth_mm is None:
        return safety.CLINIC_FLOOR
    return safety.CLINIC_FLOOR.with_max_depth(Decimal(str(depth_mm)), reason or "")


def clinic_floor() -> safety.Floor:
    """The floor with the exception in force applied (one query)."""
    exception = SafetyException.in_force().first()
    return floor_with(exception and exception.max_depth_mm, exception and exception.reason)


class IntervalUnit(models.TextChoices):
    DAYS = "days", "days"
    WEEKS = "weeks", "weeks"


class Protocol(models.Model):
    """An admin-editable recipe for a microneedling series, and who it applies to."""

    name = models.CharField(max_length=120, unique=True)
    code = models.SlugField(max_length=50, unique=True)
    description = models.TextField(help_text="What the protocol is for, and the sources behind its numbers.")
    active = models.BooleanField(default=True)
    priority = models.PositiveSmallIntegerField(
        default=100, help_text="Breaks ties between equally specific protocols: lower wins."
    )

    # Who it applies to.
    fitzpatrick_min = models.PositiveSmallIntegerField(choices=Fitzpatrick.choices, default=Fitzpatrick.I)
    fitzpatrick_max = models.PositiveSmallIntegerField(choices=Fitzpatrick.choices, default=Fitzpatrick.VI)
    age_min = models.PositiveSmallIntegerField(default=18)
    age_max = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Leave empty for no upper limit.")
    severities = models.JSONField(default=list, help_text="Pore concerns this protocol treats.")
    oiliness_types = models.JSONField(default=list, help_text="Skin oiliness types this protocol treats.")

    # The series.
    session_count = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(12)])
    interval_unit = models.CharField(max_length=5, choices=IntervalUnit.choices, default=IntervalUnit.WEEKS)
    interval_min = models.PositiveSmallIntegerField()
    interval_target = models.PositiveSmallIntegerField()
    interval_max = models.PositiveSmallIntegerField()
    session_minutes = models.PositiveSmallIntegerField(default=60, validators=[MinValueValidator(5)])
    buffer_minutes = models.PositiveSmallIntegerField(
        default=15, help_text="Cleanup time after each session during which the room and practitioner stay busy."
    )
    device = models.CharField(max_length=50, default="pen")
    depth_schedule = models.JSONField(
        default=list, help_text="Needle depth in mm for each session, in order (cheeks), e.g. [0.5, 0.75, 1.0]."
    )
    depth_cap_mm = models.DecimalField(max_digits=3, decimal_places=2)
    depth_notes = models.TextField(blank=True, help_text="How to needle: technique, endpoint, sources.")
    depth_zones = models.JSONField(
        default=list,
        blank=True,
        help_text='Per-zone caps in mm, e.g. [{"zone": "nose", "cap_mm": "0.5"}]; the schedule is for the cheeks.',
    )
    follow_up_days = models.PositiveSmallIntegerField(
        default=84, help_text="Final assessment this many days after the last microneedling session."
    )
    maintenance_note = models.CharField(max_length=255, blank=True)
    review_after_days = models.PositiveSmallIntegerField(
        default=0, help_text="A review visit this many days after the last session (182 = 6 months); 0 for none."
    )

    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["priority", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(interval_min__gte=1), name="protocol_interval_min_positive"),
            models.CheckConstraint(
                condition=Q(interval_min__lte=F("interval_target")), name="protocol_interval_min_le_target"
            ),
            models.CheckConstraint(
                condition=Q(interval_target__lte=F("interval_max")), name="protocol_interval_target_le_max"
            ),
            models.CheckConstraint(
                condition=Q(fitzpatrick_min__lte=F("fitzpatrick_max")), name="protocol_fitzpatrick_range"
            ),
            models.CheckConstraint(
                condition=Q(age_max__isnull=True) | Q(age_min__lte=F("age_max")), name="protocol_age_range"
            ),
            models.CheckConstraint(
                condition=Q(session_count=JSONArrayLength("depth_schedule")),
                name="protocol_depth_schedule_matches_sessions",
            ),
            models.CheckConstraint(
                condition=Q(depth_cap_mm__gt=0, depth_cap_mm__lte=Decimal("3.0")), name="protocol_depth_cap_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def interval_days(self, value: int) -> int:
        return value * 7 if self.interval_unit == IntervalUnit.WEEKS else value

    def _unit_text(self, value: int) -> str:
        unit = self.get_interval_unit_display()
        return f"{value} {unit[:-1] if value == 1 else unit}"

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}

        def add(field: str, message: str) -> None:
            errors.setdefault(field, []).append(message)

        lo, target, hi = self.interval_min, self.interval_target, self.interval_max
        if None not in (lo, target, hi):
            if lo < 1:
                add("interval_min", f"The minimum interval must be at least 1 {self.get_interval_unit_display()[:-1]}.")
            if target < lo:
                add(
                    "interval_target",
                    f"Target interval ({self._unit_text(target)}) is below the minimum ({self._unit_text(lo)}).",
                )
            if hi < target:
                add(
                    "interval_max",
                    f"Maximum interval ({self._unit_text(hi)}) is below the target ({self._unit_text(target)}).",
                )
        if self.fitzpatrick_min and self.fitzpatrick_max and self.fitzpatrick_min > self.fitzpatrick_max:
            add(
                "fitzpatrick_max",
                f"Fitzpatrick range is reversed: type {Fitzpatrick(self.fitzpatrick_min).label} "
                f"to type {Fitzpatrick(self.fitzpatrick_max).label}.",
            )
        if self.age_max is not None and self.age_min is not None and self.age_max < self.age_min:
            add("age_max", f"Maximum age ({self.age_max}) is below the minimum age ({self.age_min}).")
        for field, vocabulary, label in (
            ("severities", Severity, "pore concern"),
            ("oiliness_types", Oiliness, "oiliness type"),
        ):
            values = getattr(self, field)
            if not isinstance(values, list) or not values:
                add(field, f"Choose at least one {label}.")
            elif unknown := [v for v in values if v not in vocabulary.values]:
                add(field, f"Unknown {label}: {', '.join(map(str, unknown))}.")
        if self.depth_cap_mm is not None and self.depth_cap_mm <= 0:
            add("depth_cap_mm", f"The depth cap must be above 0 mm (got {mm(self.depth_cap_mm)} mm).")
        elif self.depth_cap_mm is not None and self.fitzpatrick_min and self.fitzpatrick_max:
            # The clinic-wide floor (plans/safety.py), with any recorded exception to the maximum depth.
            for problem in safety.depth_problems(
                depth_cap_mm=self.depth_cap_mm,
                fitzpatrick_min=self.fitzpatrick_min,
                fitzpatrick_max=self.fitzpatrick_max,
                floor=clinic_floor(),
            ):
                add("depth_cap_mm", problem)
        self._clean_depths(add)
        self._clean_zones(add)
        if errors:
            raise ValidationError(errors)

    def _clean_zones(self, add) -> None:
        zones = self.depth_zones
        shape = 'Enter a list of zones, e.g. [{"zone": "nose", "cap_mm": "0.5"}].'
        if not isinstance(zones, list) or not all(isinstance(z, dict) and set(z) == {"zone", "cap_mm"} for z in zones):
            add("depth_zones", shape)
            return
        for z in zones:
            try:
                cap = Decimal(str(z["cap_mm"]))
            except ArithmeticError:
                add("depth_zones", f"The cap of '{z['zone']}' must be a number of millimetres.")
                continue
            if not str(z["zone"]).strip() or not cap.is_finite() or cap <= 0:
                add("depth_zones", f"Each zone needs a name and a cap above 0 mm ('{z['zone']}').")

    @property
    def zone_caps(self) -> list[tuple[str, Decimal]]:
        return [(z["zone"], Decimal(str(z["cap_mm"]))) for z in self.depth_zones or []]

    def _clean_depths(self, add) -> None:
        depths = self.depth_schedule
        if not isinstance(depths, list):
            add("depth_schedule", "Enter one depth in mm per session, e.g. [0.5, 0.75, 1.0].")
            return
        try:
            values = [Decimal(str(d)) for d in depths]
            if not all(v.is_finite() for v in values):
                raise ArithmeticError
        except ArithmeticError:
            add("depth_schedule", "Every depth must be a number of millimetres.")
            return
        if self.session_count and len(values) != self.session_count:
            add(
                "depth_schedule",
                f"The depth schedule lists {len(values)} depth(s) but the protocol has "
                f"{self.session_count} session(s): give one depth per session.",
            )
        if any(v <= 0 for v in values):
            add("depth_schedule", "Every depth must be above 0 mm.")
        if self.depth_cap_mm is not None and (too_deep := [v for v in values if v > self.depth_cap_mm]):
            add(
                "depth_schedule",
                f"Depth {mm(max(too_deep))} mm (session {values.index(max(too_deep)) + 1}) is above the "
                f"protocol's cap of {mm(self.depth_cap_mm)} mm.",
            )


class RuleAction(models.TextChoices):
    HARD_STOP = "hard_stop", "Hard stop: no plan"
    REVIEW = "review", "Needs clinician review"
    DEFER = "defer", "Defer the start"
    DEFER_REVIEW = "defer_review", "Defer the start and needs clinician review"


class WindowUnit(models.TextChoices):
    DAYS = "days", "days"
    WEEKS = "weeks", "weeks"
    MONTHS = "months", "months"


class ContraindicationRule(models.Model):
    """What a 'yes' to a screening question means for this protocol.

    With a window, the rule only applies when the dated event was within that window
    before the plan's start (e.g. isotretinoin within 6 months); a deferral moves the
    earliest start to the end of the window.
    """

    protocol = models.ForeignKey(Protocol, on_delete=models.CASCADE, related_name="contraindications")
    question = models.ForeignKey(ScreeningQuestion, on_delete=models.PROTECT, related_name="rules")
    action = models.CharField(max_length=12, choices=RuleAction.choices)
    window_amount = models.PositiveSmallIntegerField(null=True, blank=True)
    window_unit = models.CharField(max_length=6, choices=WindowUnit.choices, blank=True)
    explanation = models.CharField(max_length=255, blank=True, help_text="Why, shown to staff with its source.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["protocol", "question__position"]
        constraints = [
            models.UniqueConstraint(fields=["protocol", "question"], name="one_rule_per_protocol_question"),
            models.CheckConstraint(
                condition=Q(window_amount__isnull=True, window_unit="") | Q(window_amount__gte=1, window_unit__gt=""),
                name="rule_window_amount_and_unit_together",
            ),
            models.CheckConstraint(
                condition=~Q(action__in=["defer", "defer_review"]) | Q(window_amount__isnull=False),
                name="rule_defer_needs_window",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.question.code} → {self.get_action_display()}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.window_amount is not None and not self.window_unit:
            errors["window_unit"] = f"Choose the unit of the {self.window_amount}-long window: days, weeks or months."
        elif self.window_amount is None and self.window_unit:
            errors["window_amount"] = f"Give the window length in {self.window_unit}, or clear the unit."
        elif self.window_amount == 0:
            errors["window_amount"] = "The window must be at least 1; leave it empty for no window."
        if (
            self.action in (RuleAction.DEFER, RuleAction.DEFER_REVIEW)
            and self.window_amount is None
            and "window_amount" not in errors
        ):
            errors["window_amount"] = "A deferral needs a window: how long to wait after the event (e.g. 6 months)."
        if self.window_amount is not None and self.question_id and not self.question.asks_date:
            errors.setdefault(
                "window_amount",
                f"“{self.question.text}” does not ask for a date, so a window cannot apply: clear the window, "
                "or make the question ask for a date.",
            )
        # The floor's fixed hard stops (plans/safety.py) can never become a review or a deferral.
        fixed = dict(safety.CLINIC_FLOOR.hard_stops).get(self.question.code) if self.question_id else None
        if fixed and self.action and self.action != RuleAction.HARD_STOP:
            errors["action"] = f"“{self.question.text}” must stay a hard stop: {fixed} (clinic safety floor)."
        if errors:
            raise ValidationError(errors)

    def unique_error_message(self, model_class, unique_check):
        if tuple(unique_check) == ("protocol", "question"):
            return ValidationError(
                "This protocol already has a rule for that screening question: edit that rule instead.",
                code="unique_together",
            )
        return super().unique_error_message(model_class, unique_check)


class CombinationKind(models.TextChoices):
    PEEL = "peel", "Chemical peel"
    TOPICAL_PAUSE = "topical_pause", "Topical pause (e.g. retinoid)"
    PRIMING = "priming", "Priming"
    ASSESSMENT = "assessment", "Assessment / check"
    OTHER = "other", "Other"


class Placement(models.TextChoices):
    BETWEEN = "between", "Midway between microneedling sessions"
    AFTER = "after", "A number of days after a microneedling session"
    AROUND = "around", "A span around each microneedling session (pauses)"
    BEFORE_FIRST = "before_first", "A span before the first session (priming)"


class CombinationTreatment(models.Model):
    """A treatment placed around the microneedling series, with its own spacing rules."""

    protocol = models.ForeignKey(Protocol, on_delete=models.CASCADE, related_name="combinations")
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=CombinationKind.choices)
    placement = models.CharField(max_length=20, choices=Placement.choices)
    after_sessions = models.JSONField(
        default=list,
        blank=True,
        help_text="Microneedling session numbers it follows, e.g. [1, 2]. Empty means after every session "
        "that has a next one (between) or every session (after, around).",
    )
    offset_days = models.PositiveSmallIntegerField(
        default=0, help_text="After: days after the session. Around/before first: days before the session."
    )
    end_offset_days = models.PositiveSmallIntegerField(
        default=0,
        help_text="After: the last day (days after the session) it may be booked, so there is a window to book "
        "in; 0 means on the offset day only. Around: days after the session the span ends.",
    )
    min_days_after_mn = models.PositiveSmallIntegerField(
        default=0, help_text="At least this many days after any microneedling session."
    )
    min_days_before_mn = models.PositiveSmallIntegerField(
        default=0, help_text="At least this many days before any microneedling session."
    )
    optional = models.BooleanField(default=True, help_text="Offered as a choice; otherwise always in the plan.")
    books_appointment = models.BooleanField(
        default=True, help_text="Needs a visit (a peel, a check); a pause or priming at home does not."
    )
    duration_minutes = models.PositiveSmallIntegerField(default=30)
    instructions = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["protocol", "position", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not isinstance(self.after_sessions, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in self.after_sessions
        ):
            raise ValidationError(
                {"after_sessions": "List session numbers from 1 up, e.g. 1, 2, or leave it empty for every session."}
            )
        errors: dict[str, str] = {}
        # The parent protocol carries the values being saved alongside (admin inlines), so
        # these checks see the new session count and intervals, not the stored ones.
        protocol = getattr(self, "protocol", None)
        beyond = [n for n in self.after_sessions if protocol and protocol.session_count and n > protocol.session_count]
        if beyond:
            errors["after_sessions"] = (
                f"“{self.name}” follows session {beyond[0]}, but the protocol has only "
                f"{protocol.session_count} session(s)."
            )
        if (
            protocol is not None
            and self.placement == Placement.BETWEEN
            and protocol.interval_min
            and protocol.interval_unit
        ):
            needed = (self.min_days_after_mn or 0) + (self.min_days_before_mn or 0)
            shortest = protocol.interval_days(protocol.interval_min)
            if needed > shortest:
                errors["min_days_before_mn"] = (
                    f"“{self.name}” needs {self.min_days_after_mn} days after and {self.min_days_before_mn} days "
                    f"before microneedling ({needed} days), but sessions may be only {shortest} days apart "
                    f"(minimum interval {protocol._unit_text(protocol.interval_min)})."
                )
        if self.placement == Placement.BEFORE_FIRST and not self.offset_days:
            errors["offset_days"] = "Say how many days before the first session this starts (e.g. 28)."
        if self.placement == Placement.AROUND and not (self.offset_days or self.end_offset_days):
            errors["offset_days"] = "Give the days before (and after) each session that the span covers."
        if errors:
            raise ValidationError(errors)


class CarePhase(models.TextChoices):
    PRE = "pre", "Pre-care (before the session)"
    POST = "post", "Post-care (after the session)"


class CareNote(models.Model):
    protocol = models.ForeignKey(Protocol, on_delete=models.CASCADE, related_name="care_notes")
    phase = models.CharField(max_length=4, choices=CarePhase.choices)
    offset_days = models.SmallIntegerField(
        help_text="Days relative to the session: negative before it (pre-care), 0 or more after it (post-care)."
    )
    subject = models.CharField(max_length=150)
    body = models.TextField()
    position = models.PositiveSmallIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["protocol", "offset_days", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(phase="pre") & Q(offset_days__lte=0)) | (Q(phase="post") & Q(offset_days__gte=0)),
                name="care_note_offset_matches_phase",
            ),
        ]

    def __str__(self) -> str:
        return f"D{self.offset_days:+d} {self.subject}"

    def clean(self) -> None:
        if self.offset_days is None:
            return
        if self.phase == CarePhase.PRE and self.offset_days > 0:
            raise ValidationError(
                {
                    "offset_days": f"Pre-care happens before the session, but day {self.offset_days:+d} is after "
                    "it: use 0 or a negative day (e.g. -7), or make the note post-care."
                }
            )
        if self.phase == CarePhase.POST and self.offset_days < 0:
            raise ValidationError(
                {
                    "offset_days": f"Post-care happens after the session, but day {self.offset_days:+d} is before "
                    "it: use 0 or a positive day (e.g. 1), or make the note pre-care."
                }
            )


class ReminderLead(models.Model):
    protocol = models.ForeignKey(Protocol, on_delete=models.CASCADE, related_name="reminder_leads")
    hours_before = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    include_pre_care = models.BooleanField(default=False, help_text="Include the pre-care instructions.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["protocol", "-hours_before"]
        constraints = [
            models.UniqueConstraint(fields=["protocol", "hours_before"], name="one_reminder_per_lead_time"),
            models.CheckConstraint(condition=Q(hours_before__gte=1), name="reminder_lead_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.hours_before} h before"

    def unique_error_message(self, model_class, unique_check):
        if tuple(unique_check) == ("protocol", "hours_before"):
            return ValidationError(
                f"This protocol already sends a reminder {self.hours_before} hours before: each lead time once.",
                code="unique_together",
            )
        return super().unique_error_message(model_class, unique_check)


# --- Plans and sessions ---------------------------------------------------------------------


class PlanStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class TreatmentPlan(models.Model):
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="plans")
    protocol = models.ForeignKey(Protocol, on_delete=models.PROTECT, related_name="plans")
    protocol_snapshot = models.JSONField(help_text="The protocol's parameters when the plan was made.")
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default=PlanStatus.ACTIVE)
    requested_start = models.DateField()
    earliest_start = models.DateField(help_text="The requested start, moved later by any deferral.")
    selected_combinations = models.JSONField(default=list, blank=True)
    rationale = models.JSONField(default=list, help_text="One entry per decision: factor, effect, source.")
    warnings = models.JSONField(default=list, blank=True)
    review_items = models.JSONField(default=list, blank=True)
    review_acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    review_acknowledged_at = models.DateTimeField(null=True, blank=True)
    # Kept in step with the ClinicalHold and ReviewSignoff rows by services/safety.py, so that
    # the allowed actions of every session (calendar JSON included) are answered from the
    # plan row alone, without a query per session.
    hold_opened_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="Set while a clinical hold is open on the plan."
    )
    review_pending = models.BooleanField(
        default=False, editable=False, help_text="A review item still lacks a clinician's sign-off."
    )
    # The snapshot keeps the cap the plan was made with; when the client changes (Fitzpatrick
    # I -> VI) and a clinician continues the plan rather than recomputing it, the lower cap of
    # the client as they are now is recorded here by that decision (services/safety.py) and
    # read through `depth_cap_mm`, never next to the snapshot's.
    clinical_depth_cap_mm = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        null=True,
        blank=True,
        editable=False,
        help_text="A lower depth cap a clinician's decision to continue the plan adopted for the client now.",
    )
    # Kept in step with the client's AdverseEvent rows by services/records.py, like hold_opened_at.
    adverse_event_hold = models.BooleanField(
        default=False, editable=False, help_text="An open moderate or severe adverse event waits for a clinician."
    )
    # The client as the plan was made for them (plans/cohorts.py): the outcomes report and the
    # preview's evidence group by these, never by the client as they are now (re-typed, older).
    # Set once by plan_create; erasure keeps them (no identity, and the birth year stays anyway).
    # Nullable only so the audit history (which mirrors these columns) can hold rows of plans
    # whose client is long deleted; the plan_cohort_recorded constraint requires them on every plan.
    cohort_fitzpatrick = models.PositiveSmallIntegerField(
        "Fitzpatrick type at the plan", choices=Fitzpatrick.choices, editable=False, null=True
    )
    cohort_age = models.PositiveSmallIntegerField("age at the plan's start", editable=False, null=True)
    cohort_oiliness = models.CharField(
        "oiliness at the plan", max_length=20, choices=Oiliness.choices, editable=False, null=True
    )
    cohort_pore_concern = models.CharField(
        "pore concern at the plan", max_length=20, choices=Severity.choices, editable=False, null=True
    )
    # The plan's outcome as the report and the preview's evidence read it, kept from its
    # OutcomeScore rows by services/outcomes.summarise_outcomes (called by score_record, the one
    # write path): joining two score rows per plan cost the evidence line most of its time at
    # 125,000 plans. change = assessment pore grade - baseline pore grade (negative is better).
    outcome_change = models.SmallIntegerField("change in pore grade", null=True, editable=False)
    outcome_gais = models.PositiveSmallIntegerField("GAIS at the assessment", null=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # One token per "Accept" form: a double submit finds the plan the first submit made
    # instead of creating a second one (unique, so even two racing requests cannot).
    request_token = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(earliest_start__gte=F("requested_start")), name="plan_earliest_not_before_requested"
            ),
            models.CheckConstraint(
                condition=Q(clinical_depth_cap_mm__isnull=True) | Q(clinical_depth_cap_mm__gt=0),
                name="plan_clinical_depth_cap_positive",
            ),
            # Every plan says who it was made for (a NULL would pass the checks below unnoticed).
            models.CheckConstraint(
                condition=Q(
                    cohort_fitzpatrick__isnull=False,
                    cohort_age__isnull=False,
                    cohort_oiliness__isnull=False,
                    cohort_pore_concern__isnull=False,
                )
                & Q(cohort_fitzpatrick__gte=1, cohort_fitzpatrick__lte=6)
                & Q(cohort_oiliness__in=Oiliness.values)
                & Q(cohort_pore_concern__in=Severity.values),
                name="plan_cohort_recorded",
            ),
        ]
        indexes = [
            # Today's worklist lists active plans blocked for a clinician: a handful among
            # every plan ever made, so the partial index holds only those.
            models.Index(
                fields=["created_at"],
                condition=Q(status="active") & (Q(hold_opened_at__isnull=False) | Q(review_pending=True)),
                name="plan_blocked_clinically",
            ),
            # The preview's evidence: one protocol, one pore concern, a Fitzpatrick range and an age
            # range: equality columns first, so the scan stays within the client's own group.
            # Everything else the evidence and the outcomes report read of a plan rides along, so
            # PostgreSQL answers both from the index alone (a plan row is a kilobyte, with its
            # snapshot: reading the table for the report took twice as long as reading this index).
            models.Index(
                fields=["protocol", "cohort_pore_concern", "cohort_fitzpatrick", "cohort_age"],
                include=["id", "outcome_change", "outcome_gais", "cohort_oiliness", "status", "requested_start"],
                name="plan_cohort",
            ),
        ]
        permissions = [
            ("make_clinical_decision", "Can sign off review items, decide clinical holds and override clinical rules"),
            ("view_outcomes_report", "Can view the protocol outcomes report"),
        ]

    def __str__(self) -> str:
        # Printed on pages every role sees (booking a plan): not the protocol's name, which is clinical.
        return f"{self.series_name} for {self.client}"

    @property
    def params(self) -> ProtocolParams:
        """The protocol as it was when the plan was made: the one typed reader of protocol_snapshot.

        Booking, the outbox, views and templates read the plan's parameters only through this,
        so editing a protocol never changes an existing plan. Parsed once per snapshot object.
        """
        cached = self.__dict__.get("_params")
        if cached is None or cached[0] is not self.protocol_snapshot:
            cached = (self.protocol_snapshot, ProtocolParams.from_snapshot(self.protocol_snapshot))
            self.__dict__["_params"] = cached
        return cached[1]

    def share_snapshot_of(self, other: TreatmentPlan) -> None:
        """Take the snapshot of `other`, a plan made from the same protocol version (an identical
        snapshot), and its parameters as parsed once for both (selectors.sharing_snapshots)."""
        self.protocol_snapshot = other.protocol_snapshot
        self.__dict__["_params"] = (other.protocol_snapshot, other.params)

    @property
    def depth_cap_mm(self) -> Decimal:
        """The deepest any session of the plan may go without a clinician's reason: the
        protocol's cap, or the lower one a clinician adopted when continuing the plan."""
        caps = [self.params.depth_cap_mm, self.clinical_depth_cap_mm]
        return min(c for c in caps if c is not None)

    @property
    def series_name(self) -> str:
        """What front desk and the client call the plan: "Microneedling, 4 sessions".

        The protocol's name says who it is for (e.g. "Fitzpatrick IV-VI"): clinical, so only
        pages for the clinical record show it.
        """
        n = self.params.session_count
        return f"Microneedling, {n} session{'' if n == 1 else 's'}"

    @property
    def is_bookable(self) -> bool:
        """Only an active plan's sessions can be booked or moved."""
        return self.status == PlanStatus.ACTIVE

    def stop(self) -> None:
        """A clinician stopped the plan (its booked sessions are cancelled by the service)."""
        if self.status != PlanStatus.ACTIVE:
            raise IllegalTransition(f"The plan is already {self.get_status_display().lower()}.")
        self.status = PlanStatus.CANCELLED

    @property
    def is_on_hold(self) -> bool:
        """A change to the client since the plan was made needs a clinician's decision first."""
        return self.hold_opened_at is not None

    def clinical_refusal(self, kind: str | None = None) -> tuple[str, str]:
        """(code, reason) why its sessions may not be booked, moved or completed now; ("", "") when they may.

        `kind`: the session's kind. An adverse event holds further microneedling only: the visit
        that checks on the reaction (an assessment, the follow-up) must stay bookable. Without a
        kind (booking the whole series) every hold counts."""
        if self.adverse_event_hold and kind in (None, SessionKind.MICRONEEDLING):
            return (
                "adverse_event_hold",
                "An adverse event holds the plan: a clinician must clear it before further microneedling.",
            )
        if self.is_on_hold:
            return "clinical_hold", "The plan is on clinical hold: a clinician must review what changed first."
        if self.review_pending:
            return "review_pending", "A clinician must sign off every review item before the plan is booked."
        return "", ""

    @property
    def is_recomputable(self) -> bool:
        """Active with nothing booked or done yet: recomputing would rewrite appointments otherwise."""
        return self.is_bookable and not any(s.status in OCCUPYING_STATUSES for s in self.sessions.all())

    def bookable_sessions(self, *, today: dt.date, sessions: Iterable[PlanSession] | None = None) -> list[PlanSession]:
        """Sessions auto-fit should place: proposed ones, and cancelled or missed ones whose
        window is still open (one past its window is booked by hand, with an override).
        `sessions`: the plan's sessions if already read."""
        return [
            s
            for s in (self.sessions.all() if sessions is None else sessions)
            if s.status == SessionStatus.PROPOSED or (s.status in BOOKABLE_STATUSES and s.latest >= today)
        ]


class SessionKind(models.TextChoices):
    MICRONEEDLING = "microneedling", "Microneedling"
    COMBINATION = "combination", "Combination treatment"
    FOLLOW_UP = "follow_up", "Follow-up assessment"


class SessionStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    BOOKED = "booked", "Booked"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NO_SHOW = "no_show", "No-show"


# What each status means for booking, defined once: services, selectors and the model's
# allowed actions read these sets instead of spelling statuses out.
OCCUPYING_STATUSES = (SessionStatus.BOOKED, SessionStatus.COMPLETED)
# Never booked, or booked and then cancelled or missed: book() accepts all three (and raises
# the version for a re-booking), so auto-fit and the calendar's "book here" offer them.
BOOKABLE_STATUSES = (SessionStatus.PROPOSED, SessionStatus.CANCELLED, SessionStatus.NO_SHOW)


class IllegalTransition(Exception):
    """A session state change that the rules forbid; the message says why, for staff.

    `code` tells a program what could make it allowed: "needs_override" when a reason to
    override the window would, "illegal" when nothing would."""

    def __init__(self, message: str, *, code: str = "illegal"):
        self.code = code
        super().__init__(message)


class PlanSession(models.Model):
    """One visit of a plan: a microneedling session, a combination treatment, or the follow-up."""

    plan = models.ForeignKey(TreatmentPlan, on_delete=models.CASCADE, related_name="sessions")
    sequence = models.PositiveSmallIntegerField(help_text="Order within the plan, from 1.")
    kind = models.CharField(max_length=15, choices=SessionKind.choices)
    title = models.CharField(max_length=150)
    mn_number = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="For microneedling: k in 'session k of n'."
    )
    earliest = models.DateField()
    target = models.DateField()
    latest = models.DateField()
    duration_minutes = models.PositiveSmallIntegerField()
    buffer_minutes = models.PositiveSmallIntegerField(default=0)
    depth_mm = models.DecimalField(max_digits=3, decimal_places=2, null=True, blank=True)
    # Washout for combination treatments, copied from the protocol snapshot so booking and
    # rescheduling can check it without re-reading the protocol.
    min_days_after_mn = models.PositiveSmallIntegerField(
        default=0, help_text="Combination only: at least this many days after any microneedling session."
    )
    min_days_before_mn = models.PositiveSmallIntegerField(
        default=0, help_text="Combination only: at least this many days before any microneedling session."
    )
    # A combination visit placed "after session k" (the PIH check 2-4 weeks after session 1)
    # follows session k's real date: booking.py re-windows it while it is unbooked.
    combination_id = models.PositiveIntegerField(
        null=True, blank=True, help_text="Combination only: the snapshot's combination it comes from."
    )
    anchor_mn = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Combination only: the microneedling session number it is placed after."
    )

    status = models.CharField(max_length=10, choices=SessionStatus.choices, default=SessionStatus.PROPOSED)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    blocked_until = models.DateTimeField(
        null=True, blank=True, help_text="End of the session plus cleanup: practitioner and room are busy until then."
    )
    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.PROTECT, null=True, blank=True, related_name="sessions"
    )
    room = models.ForeignKey(Room, on_delete=models.PROTECT, null=True, blank=True, related_name="sessions")
    version = models.PositiveIntegerField(default=0, help_text="Raised on every reschedule (iCalendar SEQUENCE).")
    window_override_reason = models.CharField(max_length=255, blank=True)

    depth_used_mm = models.DecimalField(max_digits=3, decimal_places=2, null=True, blank=True)
    # The per-session 1-5 pore score is gone: the pore grade (0-4, with written anchors) is
    # rated at baseline and at the assessment as an OutcomeScore, the one measure the report reads.
    notes = models.TextField(blank=True)
    # The day of the visit: the client arrived (check_in), then treatment began (start). Who
    # tapped is kept for the audit; the history table holds every earlier value.
    checked_in_at = models.DateTimeField(null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by_client = models.BooleanField(default=False)
    cancel_reason = models.CharField(max_length=255, blank=True)
    # Moves the client made from their own page: the limit (CLIENT_RESCHEDULES_PER_SESSION) is
    # enforced by services/selfservice.py under the plan lock; the worklist shows recent ones.
    client_reschedules = models.PositiveSmallIntegerField(default=0, editable=False)
    moved_by_client_at = models.DateTimeField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["plan", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "sequence"], name="one_session_per_plan_sequence"),
            models.CheckConstraint(
                condition=Q(earliest__lte=F("target"), target__lte=F("latest")), name="session_window_ordered"
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True) | Q(ends_at__gt=F("starts_at"), blocked_until__gte=F("ends_at")),
                name="session_times_ordered",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["booked", "completed"])
                | Q(starts_at__isnull=False, practitioner__isnull=False),
                name="session_booked_has_time_and_practitioner",
            ),
            # Arrival and treatment belong to an appointment that stands (or was done): a
            # cancellation clears them, a no-show never had them.
            models.CheckConstraint(
                condition=Q(checked_in_at__isnull=True) | Q(status__in=["booked", "completed"]),
                name="session_checked_in_only_when_attended",
            ),
            models.CheckConstraint(
                condition=Q(started_at__isnull=True)
                | Q(checked_in_at__isnull=False, started_at__gte=F("checked_in_at")),
                name="session_started_after_check_in",
            ),
            models.CheckConstraint(
                condition=Q(started_at__isnull=True)
                | Q(completed_at__isnull=True)
                | Q(completed_at__gte=F("started_at")),
                name="session_completed_after_start",
            ),
            models.CheckConstraint(
                condition=Q(started_at__isnull=True) | Q(status__in=["booked", "completed"]),
                name="session_started_only_when_attended",
            ),
        ]
        indexes = [
            models.Index(fields=["practitioner", "starts_at"]),
            models.Index(fields=["room", "starts_at"]),
            models.Index(fields=["starts_at"]),
            # "Book here" and the worklist read sessions still to book by window: the partial
            # index holds those only, and `latest` first skips every window already closed.
            models.Index(
                fields=["latest", "earliest"],
                condition=Q(status__in=["proposed", "cancelled", "no_show"]),
                name="session_bookable_window",
            ),
            # Today's "plans with sessions to book" walks the treatment visits still to book in
            # the order their windows open, and stops after the first few plans (worklist.py).
            models.Index(
                fields=["earliest", "plan"],
                condition=Q(status="proposed", kind__in=["microneedling", "combination"]),
                name="session_to_book",
            ),
            # The worklist's other kinds of session item, each a small set that its own partial
            # index holds in the item's order: at the benchmark's size each was a scan of every
            # session (the bookable-window index above holds every proposed visit too).
            models.Index(
                fields=["latest", "id"],
                condition=Q(status__in=["cancelled", "no_show"]),
                name="session_to_rebook",
            ),
            models.Index(
                fields=["latest", "id"],
                condition=Q(status="proposed", kind="follow_up"),
                name="session_follow_up_to_book",
            ),
            models.Index(
                fields=["moved_by_client_at"],
                condition=Q(moved_by_client_at__isnull=False, status="booked"),
                name="session_moved_by_client",
            ),
            # The outcomes report counts each plan's completed treatments and those in their
            # window: an index-only scan of just those rows, never the heap of every session.
            models.Index(
                fields=["plan"],
                include=["starts_at", "earliest", "latest"],
                condition=Q(kind="microneedling", status="completed"),
                name="session_completed_treatment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.get_status_display()})"

    @property
    def label(self) -> str:
        """What the client and the calendar call this visit: "Microneedling session 2 of 4"."""
        if self.kind == SessionKind.MICRONEEDLING and self.mn_number:
            return f"Microneedling session {self.mn_number} of {self.plan.params.session_count}"
        return self.title

    @property
    def is_assessment(self) -> bool:
        """A combination visit that checks the skin (the PIH check): it records what it found."""
        if self.kind != SessionKind.COMBINATION:
            return False
        combo = next((c for c in self.plan.params.combinations if c.id == self.combination_id), None)
        return combo is not None and combo.kind == CombinationKind.ASSESSMENT

    @property
    def score_moment(self) -> str | None:
        """The outcome this visit rates, if any: the pore grade before the first needle (session 1)
        and, with the GAIS, at the follow-up assessment after the series."""
        if self.kind == SessionKind.MICRONEEDLING and self.mn_number == 1:
            return ScoreMoment.BASELINE
        if self.kind == SessionKind.FOLLOW_UP:
            return ScoreMoment.ASSESSMENT
        return None

    @property
    def sequence_label(self) -> str:
        """How staff messages name the visit within its plan: "Session 3 (Glycolic peel)"."""
        return f"Session {self.sequence} ({self.title})"

    # --- Allowed actions (django-oscar style): one answer for services, templates and JSON. ---

    # In the order of a visit's day: the Today page shows its buttons in this order.
    ACTIONS = ("book", "check_in", "start", "reschedule", "cancel", "no_show", "complete")
    _ACTION_WORDS = {
        "check_in": "checked in",
        "start": "started",
        "reschedule": "moved",
        "cancel": "cancelled",
        "no_show": "a no-show",
        "complete": "completed",
    }

    @property
    def is_occupying(self) -> bool:
        """Holds its practitioner and room: booked, or done."""
        return self.status in OCCUPYING_STATUSES

    # What a clinical hold or an unsigned review item stops: cancelling, a no-show and checking
    # the client in stay open (the clinician may see them while they are here).
    CLINICAL_ACTIONS = ("book", "start", "reschedule", "complete")

    @property
    def is_checked_in(self) -> bool:
        return self.checked_in_at is not None

    @property
    def is_waiting(self) -> bool:
        """Checked in for a visit that stands, treatment not begun yet."""
        return self.checked_in_at is not None and self.started_at is None and self.status == SessionStatus.BOOKED

    @property
    def is_in_treatment(self) -> bool:
        return self.started_at is not None and self.status == SessionStatus.BOOKED

    @property
    def status_label(self) -> str:
        """What Today and the calendar show: "Checked in" and "In treatment" on the visit's day."""
        if self.status == SessionStatus.BOOKED:
            if self.started_at:
                return "In treatment"
            if self.checked_in_at:
                return "Checked in"
        return SessionStatus(self.status).label

    # What a withdrawn treatment consent stops: new microneedling bookings and their completion.
    # Moving or cancelling a booked one stays open, so the clinic can rearrange while it talks to the client.
    CONSENT_ACTIONS = ("book", "complete")

    def refusal_code(self, action: str, *, now: dt.datetime | None = None) -> str:
        """The machine-readable kind of `refusal`: "clinical_hold", "review_pending", "needs_consent",
        "illegal" or ""."""
        reason = self.refusal(action, now=now)
        if not reason:
            return ""
        code, clinical = self.plan.clinical_refusal(self.kind)
        if action in self.CLINICAL_ACTIONS and reason == clinical:
            return code
        if reason == self._consent_refusal(action):
            return "needs_consent"
        return "illegal"

    def refusal(self, action: str, *, now: dt.datetime | None = None) -> str:
        """Why `action` is not allowed now, for staff; "" when it is."""
        if action not in self.ACTIONS:
            raise ValueError(f"unknown session action {action!r}")
        reason = self._status_refusal(action, now=now)
        if not reason and action in self.CLINICAL_ACTIONS:
            reason = self.plan.clinical_refusal(self.kind)[1]
        return reason or self._consent_refusal(action)

    def _consent_refusal(self, action: str) -> str:
        withdrawn = self.plan.client.treatment_consent_withdrawn_at
        if action not in self.CONSENT_ACTIONS or self.kind != SessionKind.MICRONEEDLING or withdrawn is None:
            return ""
        return (
            f"The client withdrew their treatment consent on {timezone.localtime(withdrawn):%d %b %Y}: "
            "microneedling can be booked or completed again only after they sign a new consent."
        )

    def _status_refusal(self, action: str, *, now: dt.datetime | None = None) -> str:
        # The enum's label, not get_status_display(): asked for every action of every event of a
        # calendar week, Django's display lookup was a tenth of the week's time.
        status = SessionStatus(self.status).label.lower()
        if action == "book":
            if self.status not in BOOKABLE_STATUSES:
                return f"{self.title} is already {status}; move it instead."
            if not self.plan.is_bookable:
                return f"The plan is {self.plan.get_status_display().lower()}: its sessions cannot be booked."
            return ""
        word = self._ACTION_WORDS[action]
        if self.status != SessionStatus.BOOKED:
            return f"Only a booked session can be {word}; {self.title} is {status}."
        now = now or timezone.now()
        if action == "check_in":
            if self.checked_in_at:
                return f"{self.title} is already checked in (at {timezone.localtime(self.checked_in_at):%H:%M})."
            if timezone.localdate(self.starts_at) != timezone.localdate(now):
                return f"{self.title} is on {timezone.localtime(self.starts_at):%a %d %b}: check in on its day."
            return ""
        if action == "start":
            if self.started_at:
                return f"{self.title} is already in treatment (since {timezone.localtime(self.started_at):%H:%M})."
            if not self.checked_in_at:
                return f"Check the client in before starting {self.title}."
            return ""
        if self.checked_in_at and action in ("reschedule", "no_show"):
            return f"The client is checked in for {self.title}: it cannot be {word}."
        if self.started_at and action == "cancel":
            return f"{self.title} is in treatment: complete it instead."
        if action == "complete" and self.checked_in_at and not self.started_at:
            return f"Start {self.title} before completing it: the client is checked in."
        # Only what has begun can be done or missed; a booking in the future is moved or cancelled.
        # A client who came early and is in treatment has begun, whatever the booked time.
        if action == "complete" and self.started_at:
            return ""
        if action in ("no_show", "complete") and self.starts_at > now:
            return f"{self.title} has not started yet: it cannot be {word}."
        return ""

    @property
    def has_been_booked(self) -> bool:
        """Has (or had, before a cancellation or no-show) an appointment time."""
        return self.status != SessionStatus.PROPOSED and self.starts_at is not None

    def is_upcoming(self, *, now: dt.datetime | None = None) -> bool:
        """Has a time that has not begun yet (the calendar lets only these be dragged)."""
        return self.starts_at is not None and self.starts_at > (now or timezone.now())

    def newest_pre_session_check(self) -> PreSessionCheck | None:
        """The session's latest pre-session check (older ones are kept as they were recorded).
        Reads a `pre_session_checks` prefetch when the page made one, else one query."""
        prefetched = getattr(self, "_prefetched_objects_cache", {}).get("pre_session_checks")
        if prefetched is not None:
            return max(prefetched, key=lambda c: c.sequence, default=None)
        return self.pre_session_checks.order_by("-sequence").first()

    def can(self, action: str, *, now: dt.datetime | None = None) -> bool:
        return not self.refusal(action, now=now)

    # Photos belong to the visits that measure the skin: the baseline (session 1), every
    # microneedling session and the 12-week assessment.
    PHOTO_KINDS = (SessionKind.MICRONEEDLING, SessionKind.FOLLOW_UP)

    def photo_refusal(self) -> str:
        """Why standard photos cannot be taken for this visit now; "" when they can.

        They are taken at the visit (the client checked in) or added after it was completed."""
        if self.kind not in self.PHOTO_KINDS:
            return f"{self.title} is not a visit that takes standard photos."
        if self.status == SessionStatus.COMPLETED:
            return ""
        if self.status == SessionStatus.BOOKED and self.checked_in_at is not None:
            return ""
        if self.status == SessionStatus.BOOKED:
            return f"Check the client in for {self.title} before taking its photos."
        return f"{self.title} is {self.get_status_display().lower()}: photos are taken at a visit that takes place."

    @property
    def photo_set_label(self) -> str:
        """What the photo set of this visit is called: baseline, session k, or the assessment."""
        if self.kind == SessionKind.FOLLOW_UP:
            return "12-week assessment"
        if self.mn_number == 1:
            return "Baseline (session 1)"
        return f"Session {self.mn_number or self.sequence}"

    def available_actions(self, *, now: dt.datetime | None = None) -> list[str]:
        now = now or timezone.now()
        return [a for a in self.ACTIONS if self.can(a, now=now)]

    def _require(self, action: str, now: dt.datetime) -> None:
        if reason := self.refusal(action, now=now):
            raise IllegalTransition(reason, code=self.refusal_code(action, now=now))

    # --- State changes: each refuses an illegal move with IllegalTransition. ---------------

    def local_date(self, moment: dt.datetime | None = None) -> dt.date | None:
        moment = moment or self.starts_at
        return timezone.localdate(moment) if moment else None

    def _check_time(self, starts_at: dt.datetime, now: dt.datetime, override_reason: str) -> None:
        if timezone.is_naive(starts_at):
            raise IllegalTransition("A booking time must carry its time zone.")
        if starts_at < now:
            raise IllegalTransition(
                f"{self.title}: cannot book a time in the past ({timezone.localtime(starts_at):%d %b %Y %H:%M})."
            )
        day = timezone.localdate(starts_at)
        if not (self.earliest <= day <= self.latest) and not override_reason.strip():
            raise IllegalTransition(
                f"{self.title}: {day:%d %b %Y} is outside its window {self.earliest:%d %b}–{self.latest:%d %b %Y}; "
                "give a reason to override the window.",
                code="needs_override",
            )

    def _place(self, starts_at, practitioner, room, override_reason: str) -> None:
        self.starts_at = starts_at
        self.ends_at = starts_at + dt.timedelta(minutes=self.duration_minutes)
        self.blocked_until = self.ends_at + dt.timedelta(minutes=self.buffer_minutes)
        self.practitioner = practitioner
        self.room = room
        day = timezone.localdate(starts_at)
        inside = self.earliest <= day <= self.latest
        self.window_override_reason = "" if inside else override_reason.strip()

    def book(self, *, starts_at, practitioner, room, now: dt.datetime, override_reason: str = "") -> None:
        self._require("book", now)
        self._check_time(starts_at, now, override_reason)
        was_booked_before = self.status != SessionStatus.PROPOSED
        self._place(starts_at, practitioner, room, override_reason)
        self.status = SessionStatus.BOOKED
        self.cancelled_at, self.cancelled_by_client, self.cancel_reason = None, False, ""
        if was_booked_before:
            self.version += 1

    def reschedule(self, *, starts_at, practitioner, room, now: dt.datetime, override_reason: str = "") -> None:
        self._require("reschedule", now)
        self._check_time(starts_at, now, override_reason)
        self._place(starts_at, practitioner, room, override_reason)
        self.version += 1

    def cancel(self, *, by_client: bool, reason: str, now: dt.datetime) -> None:
        self._require("cancel", now)
        if not reason.strip():
            raise IllegalTransition("Give a reason for the cancellation.")
        self.status = SessionStatus.CANCELLED
        # The appointment no longer stands: its arrival goes with it (the history keeps it).
        self.checked_in_at, self.checked_in_by = None, None
        self.cancelled_at = now
        self.cancelled_by_client = by_client
        self.cancel_reason = reason.strip()
        self.version += 1

    def is_above_plan(self, depth_used_mm: Decimal | None) -> bool:
        return depth_used_mm is not None and self.depth_mm is not None and depth_used_mm > self.depth_mm

    def check_in(self, *, now: dt.datetime, by=None) -> None:
        """The client has arrived for today's appointment."""
        self._require("check_in", now)
        self.checked_in_at, self.checked_in_by = now, by

    def start(self, *, now: dt.datetime, by=None) -> None:
        """Treatment begins (the service first requires a current pre-session check)."""
        self._require("start", now)
        self.started_at, self.started_by = max(now, self.checked_in_at), by

    def depth_rules_broken(self, depth_used_mm: Decimal | None) -> list[tuple[str, str]]:
        """(ClinicalRule, detail) for each clinical limit `depth_used_mm` goes past: the session's
        planned depth, and the lower cap a clinician adopted for the plan. Each needs a clinician's
        reason; the protocol's own cap can never be passed (complete() refuses it)."""
        if depth_used_mm is None:
            return []
        broken = []
        if self.is_above_plan(depth_used_mm):
            broken.append(
                (
                    ClinicalRule.DEPTH_ABOVE_PLAN,
                    f"Depth {mm(depth_used_mm)} mm used; {mm(self.depth_mm)} mm planned for {self.sequence_label}",
                )
            )
        cap = self.plan.clinical_depth_cap_mm
        if cap is not None and depth_used_mm > cap:
            broken.append(
                (
                    ClinicalRule.DEPTH_ABOVE_CAP,
                    f"Depth {mm(depth_used_mm)} mm used; the client's cap is now {mm(cap)} mm "
                    f"(adopted when the plan was continued after a change)",
                )
            )
        return broken

    def mark_no_show(self, *, now: dt.datetime) -> None:
        self._require("no_show", now)
        self.status = SessionStatus.NO_SHOW

    def complete(
        self,
        *,
        depth_used_mm: Decimal | None,
        notes: str,
        depth_cap_mm: Decimal | None,
        now: dt.datetime,
        above_plan_reason: str = "",
    ) -> None:
        """`above_plan_reason`: a clinician's reason for going deeper than this session's planned
        depth or the plan's adopted cap (depth_rules_broken; the service checks who gives it and
        records it as a ClinicalOverride)."""
        self._require("complete", now)
        if self.kind == SessionKind.MICRONEEDLING and depth_used_mm is None:
            raise IllegalTransition("Record the needle depth used for a microneedling session.")
        if depth_used_mm is not None:
            if depth_used_mm <= 0:
                raise IllegalTransition("The depth used must be above 0 mm.")
            if depth_cap_mm is not None and depth_used_mm > depth_cap_mm:
                raise IllegalTransition(f"Depth {depth_used_mm} mm is above the protocol's cap of {depth_cap_mm} mm.")
            if (broken := self.depth_rules_broken(depth_used_mm)) and not above_plan_reason.strip():
                raise IllegalTransition(
                    "; ".join(detail for _rule, detail in broken) + ": a clinician must give a reason.",
                    code="needs_clinician",
                )
        self.status = SessionStatus.COMPLETED
        self.depth_used_mm = depth_used_mm
        self.notes = notes
        self.completed_at = now


# --- Clinical safety after the plan is made (services/safety.py writes these) ------------------


class PreSessionCheck(models.Model):
    """The short re-screen before a microneedling session: what changed since the last visit.

    Recorded by staff at check-in or by the client from the signed link in the reminder, once
    per session while it counts: when the session's newest check is no longer current at the
    session's time (the session moved later, or the check went stale) a new one is recorded
    with the next `sequence`. Old checks are records and stay as they are; the unique
    (session, sequence) means two submits at once record one. `answers` maps each code of
    plans.recheck.CHECK_QUESTIONS to {"yes": bool, "detail": str}; the service refuses an
    incomplete one.
    """

    class Via(models.TextChoices):
        STAFF = "staff", "Staff at check-in"
        CLIENT = "client", "Client from the reminder link"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="pre_session_checks")
    session = models.ForeignKey(PlanSession, on_delete=models.CASCADE, related_name="pre_session_checks")
    # 1 for a session's first check, +1 for each one recorded because the previous went stale.
    sequence = models.PositiveSmallIntegerField(default=1)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    via = models.CharField(max_length=6, choices=Via.choices)
    answers = models.JSONField()

    history = HistoricalRecords()

    class Meta:
        ordering = ["-recorded_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(via__in=["staff", "client"]), name="pre_session_check_via_valid"),
            models.CheckConstraint(condition=Q(sequence__gte=1), name="pre_session_check_sequence_positive"),
            models.UniqueConstraint(fields=["session", "sequence"], name="pre_session_check_once_per_sequence"),
        ]
        indexes = [models.Index(fields=["client", "-recorded_at"])]

    def __str__(self) -> str:
        return f"Pre-session check of {self.client} at {self.recorded_at:%Y-%m-%d %H:%M}"

    @property
    def yes_codes(self) -> list[str]:
        return [code for code, answer in self.answers.items() if answer.get("yes")]

    def is_current(self, *, now: dt.datetime) -> bool:
        return self.recorded_at >= now - dt.timedelta(days=settings.PRE_SESSION_CHECK_VALID_DAYS)

    def covers(self, session: PlanSession, *, now: dt.datetime) -> bool:
        """Whether this check still counts for `session`: now and at the session's start (a check
        current at the later moment is current at the earlier one), so starting and completing
        it will find it current unless the session is moved later or starts late."""
        return self.is_current(now=max(filter(None, [now, session.starts_at])))


class HoldStatus(models.TextChoices):
    OPEN = "open", "Waiting for a clinician"
    CONTINUED = "continued", "Continued with a recorded reason"
    RECOMPUTED = "recomputed", "Plan recomputed"
    STOPPED = "stopped", "Plan stopped"


class ClinicalHold(models.Model):
    """A change to the client after the plan was made that the engine would now answer
    differently: booking, moving and completing wait until a clinician decides."""

    plan = models.ForeignKey(TreatmentPlan, on_delete=models.CASCADE, related_name="holds")
    opened_at = models.DateTimeField(default=timezone.now)
    cause = models.CharField(max_length=200, help_text="What changed: the profile, a screening, a pre-session check.")
    reasons = models.JSONField(help_text="One line per difference from the plan, each saying why.")
    status = models.CharField(max_length=10, choices=HoldStatus.choices, default=HoldStatus.OPEN)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            # One open hold per plan: a second change adds its reasons to the open one.
            models.UniqueConstraint(fields=["plan"], condition=Q(status="open"), name="one_open_hold_per_plan"),
            models.CheckConstraint(condition=Q(status__in=HoldStatus.values), name="hold_status_valid"),
            models.CheckConstraint(
                condition=Q(status="open", decided_at__isnull=True)
                | (~Q(status="open") & Q(decided_at__isnull=False, decided_by__isnull=False) & ~Q(decision_note="")),
                name="hold_decided_by_someone_with_a_note",
            ),
        ]

    def __str__(self) -> str:
        return f"Hold on plan {self.plan_id} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status == HoldStatus.OPEN

    def decide(self, *, status: str, by, note: str, now: dt.datetime) -> None:
        if not self.is_open:
            raise IllegalTransition(f"This hold was already decided: {self.get_status_display().lower()}.")
        if status not in (HoldStatus.CONTINUED, HoldStatus.RECOMPUTED, HoldStatus.STOPPED):
            raise IllegalTransition(f"Unknown decision {status!r}.")
        if not note.strip():
            raise IllegalTransition("Record what was decided and why.")
        self.status, self.decided_by, self.decided_at, self.decision_note = status, by, now, note.strip()


class ReviewSignoff(models.Model):
    """A clinician's sign-off of one review item of a plan, with what was done about it."""

    plan = models.ForeignKey(TreatmentPlan, on_delete=models.CASCADE, related_name="review_signoffs")
    question_code = models.CharField(max_length=50)
    note = models.TextField(help_text="What was done, e.g. 'antiviral prescribed by Dr X'.")
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        ordering = ["signed_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "question_code"], name="one_signoff_per_review_item"),
            models.CheckConstraint(condition=~Q(note=""), name="signoff_has_note"),
        ]

    def __str__(self) -> str:
        return f"{self.question_code} signed off by {self.signed_by}"


class ClinicalRule(models.TextChoices):
    DEFERRAL = "deferral", "Deferred start"
    WASHOUT = "washout", "Washout between treatments"
    DEPTH_ABOVE_PLAN = "depth_above_plan", "Depth above the planned depth"
    DEPTH_ABOVE_CAP = "depth_above_cap", "Depth above the client's current cap"
    ZONE_ABOVE_CAP = "zone_above_cap", "Zone depth above the zone's cap"


class ClinicalOverride(models.Model):
    """A clinician's decision to go against a clinical rule for one session: who, when, which rule, why.

    Kept apart from `PlanSession.window_override_reason`, the scheduling convenience any
    booking role may use."""

    session = models.ForeignKey(PlanSession, on_delete=models.CASCADE, related_name="clinical_overrides")
    rule = models.CharField(max_length=20, choices=ClinicalRule.choices)
    detail = models.CharField(max_length=500, help_text="The rule as the check stated it.")
    reason = models.CharField(max_length=500)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="clinical_override_has_reason"),
            models.CheckConstraint(condition=Q(rule__in=ClinicalRule.values), name="clinical_override_rule_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_rule_display()} overridden by {self.by} on session {self.session_id}"


# --- The treatment record, adverse events and lot recall (services/records.py writes these) -----


class RecordImmutable(Exception):
    """A signed treatment record (or its addendum) is never edited: a correction is an addendum."""


class WrittenOnce(models.Model):
    """A row written once and never edited, except by erasure blanking its free text
    (services/privacy.py sets ERASABLE fields to "" or "(erased)" and saves)."""

    ERASABLE: tuple[str, ...] = ()
    ERASED_VALUES = ("", "(erased)")

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            stored = type(self)._default_manager.filter(pk=self.pk).first()
            if stored is not None:
                for field in self._meta.concrete_fields:
                    before, after = field.value_from_object(stored), field.value_from_object(self)
                    if before != after and not (field.name in self.ERASABLE and after in self.ERASED_VALUES):
                        raise RecordImmutable(
                            f"A signed {self._meta.verbose_name} cannot be changed ({field.name}); add an addendum."
                        )
        super().save(*args, **kwargs)


class Device(models.Model):
    """A microneedling pen the clinic owns; managed in the admin. One overdue for service is flagged."""

    name = models.CharField(max_length=100, help_text="Make and model, e.g. 'Dermapen 4'.")
    serial_number = models.CharField(max_length=100, unique=True)
    last_serviced_on = models.DateField()
    service_interval_days = models.PositiveSmallIntegerField(
        default=365, validators=[MinValueValidator(1)], help_text="The maker's service interval."
    )
    active = models.BooleanField(default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name", "serial_number"]
        constraints = [
            models.CheckConstraint(condition=Q(service_interval_days__gte=1), name="device_service_interval_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (S/N {self.serial_number})"

    @property
    def service_due_on(self) -> dt.date:
        return self.last_serviced_on + dt.timedelta(days=self.service_interval_days)

    def is_overdue(self, *, today: dt.date) -> bool:
        return today > self.service_due_on


class LotKind(models.TextChoices):
    CARTRIDGE = "cartridge", "Needle cartridge"
    PRODUCT = "product", "Glide serum or product"


class Lot(models.Model):
    """One manufacturing lot of a needle cartridge or a product. An expired or recalled lot is refused."""

    kind = models.CharField(max_length=10, choices=LotKind.choices)
    product = models.CharField(max_length=150, help_text="e.g. 'Dermapen 16-pin cartridge', 'Hyaluronic glide serum'.")
    lot_number = models.CharField(max_length=60)
    expires_on = models.DateField()
    recalled_at = models.DateTimeField(null=True, blank=True, editable=False)
    recalled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, editable=False, related_name="+"
    )
    recall_reason = models.CharField(max_length=255, blank=True, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["kind", "product", "lot_number"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "product", "lot_number"], name="one_lot_per_product_number"),
            models.CheckConstraint(condition=Q(kind__in=LotKind.values), name="lot_kind_valid"),
            models.CheckConstraint(
                condition=Q(recalled_at__isnull=True, recalled_by__isnull=True, recall_reason="")
                | (Q(recalled_at__isnull=False, recalled_by__isnull=False) & ~Q(recall_reason="")),
                name="lot_recalled_by_someone_with_a_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product}, lot {self.lot_number}"

    @property
    def is_recalled(self) -> bool:
        return self.recalled_at is not None

    def refusal(self, *, today: dt.date) -> str:
        """Why this lot may not be used today; "" when it may."""
        if self.is_recalled:
            return f"{self} was recalled: do not use it."
        if self.expires_on < today:
            return f"{self} expired on {self.expires_on:%d %b %Y}: do not use it."
        return ""

    def recall(self, *, by, reason: str, now: dt.datetime) -> None:
        if self.is_recalled:
            raise IllegalTransition(f"{self} was already recalled.")
        if not reason.strip():
            raise IllegalTransition("Give the reason for the recall (e.g. the maker's notice).")
        self.recalled_at, self.recalled_by, self.recall_reason = now, by, reason.strip()[:255]


class Endpoint(models.TextChoices):
    ERYTHEMA = "erythema", "Even erythema"
    PINPOINT_BLEEDING = "pinpoint_bleeding", "Pinpoint bleeding"


class TreatmentRecord(WrittenOnce):
    """What was done in one microneedling session, signed off by the practitioner.

    Written once, by the sign-off that completes the session (one per session: the database
    says so, so two sign-offs at once make one record). A correction is a RecordAddendum."""

    ERASABLE = ("immediate_reaction", "notes")

    session = models.OneToOneField(PlanSession, on_delete=models.CASCADE, related_name="treatment_record")
    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="records")
    device_overdue = models.BooleanField(default=False, help_text="The device was past its service date.")
    cartridge = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="cartridge_records")
    product = models.ForeignKey(Lot, on_delete=models.PROTECT, null=True, blank=True, related_name="product_records")
    passes = models.PositiveSmallIntegerField()
    anaesthetic = models.CharField(max_length=150, blank=True, help_text="Topical anaesthetic, if any.")
    anaesthetic_minutes = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Contact time.")
    endpoint = models.CharField(max_length=20, choices=Endpoint.choices)
    immediate_reaction = models.TextField(blank=True)
    notes = models.TextField(blank=True, help_text="The practitioner's notes.")
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField()

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(passes__gte=1, passes__lte=10), name="record_passes_1_10"),
            models.CheckConstraint(condition=Q(endpoint__in=Endpoint.values), name="record_endpoint_valid"),
            models.CheckConstraint(
                condition=(Q(anaesthetic="") & Q(anaesthetic_minutes__isnull=True))
                | (~Q(anaesthetic="") & Q(anaesthetic_minutes__gte=1)),
                name="record_anaesthetic_has_contact_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Treatment record of session {self.session_id}"

    @property
    def deepest_mm(self) -> Decimal | None:
        return max((z.depth_mm for z in self.zones.all()), default=None)


class ZoneDepth(WrittenOnce):
    """The depth used on one zone of the face, part of a signed record."""

    record = models.ForeignKey(TreatmentRecord, on_delete=models.CASCADE, related_name="zones")
    zone = models.CharField(max_length=50)
    depth_mm = models.DecimalField(max_digits=3, decimal_places=2)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["record", "zone"], name="one_depth_per_record_zone"),
            models.CheckConstraint(condition=Q(depth_mm__gt=0), name="zone_depth_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.zone}: {mm(self.depth_mm)} mm"


class RecordAddendum(WrittenOnce):
    """A correction or addition to a signed record: who, when, what. Never edited either."""

    ERASABLE = ("text",)

    record = models.ForeignKey(TreatmentRecord, on_delete=models.CASCADE, related_name="addenda")
    text = models.TextField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        constraints = [models.CheckConstraint(condition=~Q(text=""), name="addendum_has_text")]

    def __str__(self) -> str:
        return f"Addendum to record {self.record_id} at {self.at:%Y-%m-%d %H:%M}"


class CheckResult(models.TextChoices):
    """What an assessment visit (the PIH check) found; anything but none is an adverse event."""

    NONE = "none", "None seen"
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


class AdverseEventType(models.TextChoices):
    PIH = "pih", "Post-inflammatory hyperpigmentation (PIH)"
    INFECTION = "infection", "Infection"
    HERPES = "herpes", "Herpes (cold sore) reactivation"
    PROLONGED_ERYTHEMA = "prolonged_erythema", "Prolonged erythema"
    GRANULOMA = "granuloma", "Granuloma"
    SCARRING = "scarring", "Scarring"
    ALLERGIC = "allergic", "Allergic reaction"
    OTHER = "other", "Other"


# An event this severe holds further microneedling until a clinician clears it.
HOLDING_SEVERITIES = (Severity.MODERATE, Severity.SEVERE)


class AdverseEventQuerySet(models.QuerySet):
    def holding(self) -> models.QuerySet:
        """Events that hold the client's plans: moderate or severe, not yet cleared by a clinician."""
        return self.filter(severity__in=HOLDING_SEVERITIES, cleared_at__isnull=True)


class AdverseEvent(models.Model):
    """A reaction or complication, recorded from a session's record, the client page or a PIH check.

    A moderate or severe one holds the client's active plans (TreatmentPlan.adverse_event_hold)
    until a clinician clears it with a note."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="adverse_events")
    session = models.ForeignKey(
        PlanSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="adverse_events"
    )
    # The session's plan, copied when the event is recorded (services/records.py), so counting the
    # plans that had an event reads this table alone. Hidden ("+"): the event belongs to the client
    # and the session already, and the export and erasure walk those relations. No index of its
    # own: adverse_event_plan_type below leads with it.
    plan = models.ForeignKey(
        TreatmentPlan, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    type = models.CharField(max_length=20, choices=AdverseEventType.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    onset_on = models.DateField()
    description = models.TextField()
    action_taken = models.TextField(blank=True)
    follow_up_on = models.DateField(null=True, blank=True)
    resolved_on = models.DateField(null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cleared_at = models.DateTimeField(null=True, blank=True)
    clearance_note = models.TextField(blank=True)

    objects = AdverseEventQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-onset_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(type__in=AdverseEventType.values), name="adverse_event_type_valid"),
            models.CheckConstraint(condition=Q(severity__in=Severity.values), name="adverse_event_severity_valid"),
            models.CheckConstraint(
                condition=Q(resolved_on__isnull=True) | Q(resolved_on__gte=F("onset_on")),
                name="adverse_event_resolved_after_onset",
            ),
            models.CheckConstraint(
                condition=Q(follow_up_on__isnull=True) | Q(follow_up_on__gte=F("onset_on")),
                name="adverse_event_follow_up_after_onset",
            ),
            models.CheckConstraint(
                condition=Q(cleared_at__isnull=True, cleared_by__isnull=True)
                | (Q(cleared_at__isnull=False, cleared_by__isnull=False) & ~Q(clearance_note="")),
                name="adverse_event_cleared_by_someone_with_a_note",
            ),
            # An event from a session counts for that session's plan (an event recorded from the
            # client page has neither). That it is the session's own plan is the recording service's
            # job: a check constraint cannot read another table.
            models.CheckConstraint(
                condition=Q(session__isnull=True) | Q(plan__isnull=False), name="adverse_event_session_has_its_plan"
            ),
        ]
        indexes = [
            models.Index(fields=["client"], condition=Q(cleared_at__isnull=True), name="adverse_event_uncleared"),
            # The plans that had an event, and had one of a type: the report and the evidence line.
            models.Index(fields=["plan", "type"], condition=Q(plan__isnull=False), name="adverse_event_plan_type"),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} ({self.get_severity_display().lower()}) from {self.onset_on:%d %b %Y}"

    @property
    def holds_plan(self) -> bool:
        return self.severity in HOLDING_SEVERITIES and self.cleared_at is None

    @property
    def is_resolved(self) -> bool:
        return self.resolved_on is not None

    def clear(self, *, by, note: str, now: dt.datetime) -> None:
        if self.cleared_at is not None:
            raise IllegalTransition("This adverse event was already cleared.")
        if not note.strip():
            raise IllegalTransition("Record why further treatment may go ahead.")
        self.cleared_by, self.cleared_at, self.clearance_note = by, now, note.strip()

    def resolve(self, *, on: dt.date) -> None:
        if self.resolved_on is not None:
            raise IllegalTransition("This adverse event is already resolved.")
        if on < self.onset_on:
            raise IllegalTransition("It cannot resolve before its onset.")
        self.resolved_on = on


class WorkerHeartbeat(models.Model):
    """Last time a Celery worker ran the beat's heartbeat: shows staff that email delivery is alive."""

    name = models.CharField(max_length=50, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.seen_at:%Y-%m-%d %H:%M:%S}"


# --- Security and privacy -----------------------------------------------------------------


class AccessAction(models.TextChoices):
    VIEW = "view", "Viewed clinical record"
    EXPORT = "export", "Exported client data"
    ERASE = "erase", "Erased client"


class RecordAccess(models.Model):
    """Who looked at, exported or erased a client's record, and when. Written by services.privacy only."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # PROTECT: a client who has been seen is erased (anonymised), never deleted, so the log stays whole.
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="record_accesses")
    action = models.CharField(max_length=10, choices=AccessAction.choices)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "record access"
        verbose_name_plural = "record access log"
        constraints = [
            models.CheckConstraint(condition=Q(action__in=AccessAction.values), name="record_access_action_valid"),
        ]
        indexes = [models.Index(fields=["client", "-at"])]

    def __str__(self) -> str:
        return f"{self.user} {self.get_action_display().lower()} #{self.client_id} at {self.at:%Y-%m-%d %H:%M}"


class ClientAccess(models.Model):
    """One link to a client's own page, as issued in their emails (services/selfservice.py).

    A row per issued access rather than a per-client counter: staff see when a link went out
    and when it was last used, revoking is a dated act with who did it, and the next email
    issues a fresh link by itself. An email reuses the client's newest live access until it
    is within a week of expiring, so a busy client does not collect a row per email."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="accesses")
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name_plural = "client accesses"
        constraints = [
            models.CheckConstraint(condition=Q(expires_at__gt=F("issued_at")), name="client_access_expires_after"),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(revoked_at__gte=F("issued_at")),
                name="client_access_revoked_after_issue",
            ),
        ]
        indexes = [models.Index(fields=["client", "-issued_at"])]

    def __str__(self) -> str:
        return f"Access #{self.pk} for client #{self.client_id}"

    def refusal(self, *, now: dt.datetime) -> str:
        """Why this access no longer opens the page ("" while it does)."""
        if self.revoked_at is not None:
            return "This link was withdrawn by the clinic."
        if now >= self.expires_at:
            return "This link has expired."
        return ""

    def is_live(self, *, now: dt.datetime) -> bool:
        return not self.refusal(now=now)


class RateLimitBucket(models.Model):
    """Requests counted per (hashed client address + page) per fixed time window; see permissions.py."""

    key = models.CharField(max_length=64, help_text="HMAC of the address and scope: no IP is stored.")
    window_start = models.DateTimeField()
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window_start"], name="one_bucket_per_key_window")]
        indexes = [models.Index(fields=["window_start"])]

    def __str__(self) -> str:
        return f"{self.key[:8]}… {self.hits} since {self.window_start:%H:%M:%S}"


# --- The waitlist (services/waitlist.py writes these) -----------------------------------------


class IllegalWaitlistMove(Exception):
    """A waitlist entry or offer was asked to make a move its status does not allow."""

    code = "illegal"


class WaitlistStatus(models.TextChoices):
    ACTIVE = "active", "Waiting"
    OFFERED = "offered", "Offered a slot"
    BOOKED = "booked", "Took an earlier slot"
    WITHDRAWN = "withdrawn", "Left the list"
    EXPIRED = "expired", "No longer waiting"


# An entry still waiting (with or without an offer out): at most one per session.
LIVE_WAITLIST = (WaitlistStatus.ACTIVE, WaitlistStatus.OFFERED)


class WaitlistEntry(models.Model):
    """A client asked for an earlier slot for one booked session. The client is the session's
    plan's: not stored again, so it can never disagree."""

    session = models.ForeignKey(PlanSession, on_delete=models.CASCADE, related_name="waitlist_entries")
    requested_at = models.DateTimeField(help_text="Offers go out in this order.")
    status = models.CharField(max_length=10, choices=WaitlistStatus.choices, default=WaitlistStatus.ACTIVE)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["requested_at", "id"]
        verbose_name_plural = "waitlist entries"
        constraints = [
            # "Leave" then "ask again" makes a new row; two live ones would be offered twice.
            models.UniqueConstraint(
                fields=["session"], condition=Q(status__in=LIVE_WAITLIST), name="one_live_waitlist_entry_per_session"
            ),
            models.CheckConstraint(condition=Q(status__in=WaitlistStatus.values), name="waitlist_entry_status_valid"),
            models.CheckConstraint(
                condition=Q(status__in=LIVE_WAITLIST) | Q(closed_at__isnull=False), name="waitlist_entry_closed_at"
            ),
        ]
        indexes = [
            models.Index(fields=["requested_at"], condition=Q(status__in=LIVE_WAITLIST), name="waitlist_live_order"),
        ]

    def __str__(self) -> str:
        return f"Waitlist #{self.pk} for session #{self.session_id} ({self.get_status_display()})"

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_WAITLIST

    def _move(self, allowed: Iterable[str], target: str) -> None:
        if self.status not in allowed:
            raise IllegalWaitlistMove(
                f"Waitlist entry {self.pk} is {self.get_status_display().lower()}; it cannot become "
                f"{WaitlistStatus(target).label.lower()}."
            )
        self.status = target

    def mark_offered(self) -> None:
        self._move(LIVE_WAITLIST, WaitlistStatus.OFFERED)

    def back_to_waiting(self) -> None:
        """Its offers ran out (expired, lost): it waits for the next freed slot."""
        self._move(LIVE_WAITLIST, WaitlistStatus.ACTIVE)

    def close(self, status: str, *, reason: str, now: dt.datetime) -> None:
        if status not in (WaitlistStatus.BOOKED, WaitlistStatus.WITHDRAWN, WaitlistStatus.EXPIRED):
            raise ValueError(f"{status} does not close a waitlist entry.")
        self._move(LIVE_WAITLIST, status)
        self.closed_at = now
        self.closed_reason = reason[:255]


class OfferStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    LOST = "lost", "Taken by someone else"
    EXPIRED = "expired", "Expired"
    WITHDRAWN = "withdrawn", "Withdrawn"


class WaitlistOffer(models.Model):
    """A freed slot offered by email to one waitlisted client. Several clients may hold an open
    offer of the same slot; the first to accept books it and the others' become lost."""

    entry = models.ForeignKey(WaitlistEntry, on_delete=models.CASCADE, related_name="offers")
    practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="+")
    room = models.ForeignKey(Room, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=OfferStatus.choices, default=OfferStatus.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # The same freed slot is offered to a client once: a second cancellation of the
            # slot's holder, or the beat running twice, writes nothing (and sends nothing).
            models.UniqueConstraint(fields=["entry", "practitioner", "starts_at"], name="one_offer_per_entry_slot"),
            models.CheckConstraint(condition=Q(status__in=OfferStatus.values), name="waitlist_offer_status_valid"),
            models.CheckConstraint(condition=Q(expires_at__gt=F("created_at")), name="waitlist_offer_expires_after"),
        ]
        indexes = [
            models.Index(fields=["practitioner", "starts_at"], condition=Q(status="open"), name="waitlist_open_slot"),
            models.Index(fields=["expires_at"], condition=Q(status="open"), name="waitlist_open_expiry"),
        ]

    def __str__(self) -> str:
        return f"Offer #{self.pk} of {self.starts_at:%Y-%m-%d %H:%M} to entry #{self.entry_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status == OfferStatus.OPEN

    def refusal(self, *, now: dt.datetime) -> str:
        """Why the client can no longer take this offer ("" while they can)."""
        if self.status == OfferStatus.ACCEPTED:
            return "You have already taken this slot."
        if self.status == OfferStatus.LOST:
            return "Someone else took this slot first."
        if self.status == OfferStatus.WITHDRAWN:
            return "This offer was withdrawn."
        if self.status == OfferStatus.EXPIRED or now >= self.expires_at:
            return "This offer has expired."
        return ""

    def close(self, status: str, *, now: dt.datetime) -> None:
        if status == OfferStatus.OPEN or self.status != OfferStatus.OPEN:
            raise IllegalWaitlistMove(f"Offer {self.pk} is {self.status}; it cannot become {status}.")
        self.status = status
        self.closed_at = now


# --- Consent (services/consent.py writes these) ---------------------------------------------


class ConsentKind(models.TextChoices):
    TREATMENT = "treatment", "Treatment consent"
    PHOTO = "photo", "Photo consent"


class PhotoUse(models.TextChoices):
    """What photos may be used for: each one a separate opt-in on the photo consent."""

    CLINICAL_RECORD = "clinical_record", "Clinical record (before and after, seen only by the clinic's clinical staff)"
    TEACHING = "teaching", "Anonymised teaching and training (face not identifiable)"
    MARKETING = "marketing", "Marketing (website, social media, brochures)"


class ConsentImmutable(Exception):
    """A consent version or a signed consent was asked to change: they never do."""


class ConsentTemplate(models.Model):
    """One consent form (treatment, photo); its wording lives in numbered, immutable versions."""

    kind = models.CharField(max_length=10, choices=ConsentKind.choices, unique=True)
    name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind"]
        constraints = [models.CheckConstraint(condition=Q(kind__in=ConsentKind.values), name="consent_kind_valid")]

    def __str__(self) -> str:
        return self.name

    @property
    def current_version(self) -> ConsentVersion | None:
        return self.versions.order_by("-number").first()


class ConsentVersion(models.Model):
    """The exact wording of a consent form at one time. Editing the form adds a version; a version
    is never changed (the model refuses, and the database refuses once anyone has signed it)."""

    template = models.ForeignKey(ConsentTemplate, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["template", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="one_consent_version_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="consent_version_from_1"),
            models.CheckConstraint(condition=~Q(body="") & ~Q(title=""), name="consent_version_has_text"),
        ]

    def __str__(self) -> str:
        return f"{self.template} v{self.number}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ConsentImmutable(f"{self} is a record: edit the consent form to make a new version.")
        super().save(*args, **kwargs)


class SignedConsentQuerySet(models.QuerySet):
    def newest(self, *, client_id: int, kind: str) -> SignedConsent | None:
        """The client's latest signature of this kind (with its withdrawal, if any): one query."""
        return (
            self.filter(client_id=client_id, kind=kind)
            .select_related("withdrawal")
            .order_by("-signed_at", "-id")
            .first()
        )

    def current(self, *, client_id: int, kind: str) -> SignedConsent | None:
        """The consent in force: the newest signature, unless it was withdrawn."""
        newest = self.newest(client_id=client_id, kind=kind)
        return newest if newest is not None and not newest.is_withdrawn else None


class SignedConsent(models.Model):
    """A client's signature on one consent version: immutable. Withdrawal is a row of its own.

    `text` is the exact text shown and signed (the version's title and body, plus the photo
    uses ticked), `text_sha256` its SHA-256, so a signature keeps what it agreed to whatever
    happens to the form later."""

    class Via(models.TextChoices):
        CLINIC = "clinic", "In the clinic, witnessed"
        REMOTE = "remote", "Remotely, from the emailed link"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="consents")
    version = models.ForeignKey(ConsentVersion, on_delete=models.PROTECT, related_name="signatures")
    kind = models.CharField(max_length=10, choices=ConsentKind.choices)
    text = models.TextField()
    text_sha256 = models.CharField(max_length=64)
    photo_uses = models.JSONField(default=list, blank=True, help_text="Photo consent: the uses opted into.")
    signature_png = models.BinaryField()
    signed_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    via = models.CharField(max_length=6, choices=Via.choices)
    witness = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The emailed request (a Message id) a remote signature answered: unique, so one link signs once.
    request_message_id = models.PositiveIntegerField(null=True, blank=True, unique=True, editable=False)

    objects = SignedConsentQuerySet.as_manager()

    class Meta:
        ordering = ["-signed_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ConsentKind.values), name="signed_consent_kind_valid"),
            models.CheckConstraint(
                condition=Q(via="clinic", witness__isnull=False, request_message_id__isnull=True)
                | Q(via="remote", witness__isnull=True, request_message_id__isnull=False),
                name="signed_consent_witnessed_or_remote",
            ),
            models.CheckConstraint(
                condition=models.lookups.Exact(models.functions.Length("text_sha256"), 64),
                name="signed_consent_sha256_length",
            ),
            models.CheckConstraint(condition=~Q(text=""), name="signed_consent_has_text"),
        ]
        indexes = [models.Index(fields=["client", "kind", "-signed_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.client} ({timezone.localtime(self.signed_at):%d %b %Y})"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ConsentImmutable("A signed consent is a record: it is never changed (withdraw it instead).")
        super().save(*args, **kwargs)

    @property
    def is_withdrawn(self) -> bool:
        return hasattr(self, "withdrawal")

    def allows_photo_use(self, use: str) -> bool:
        return self.kind == ConsentKind.PHOTO and use in self.photo_uses and not self.is_withdrawn


class ConsentWithdrawal(models.Model):
    """The client took a consent back: from the emailed link, or told staff (who record it)."""

    class Via(models.TextChoices):
        CLIENT = "client", "By the client with the emailed link"
        STAFF = "staff", "Recorded by staff"

    consent = models.OneToOneField(SignedConsent, on_delete=models.CASCADE, related_name="withdrawal")
    withdrawn_at = models.DateTimeField()
    via = models.CharField(max_length=6, choices=Via.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-withdrawn_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(via="client", recorded_by__isnull=True) | Q(via="staff", recorded_by__isnull=False),
                name="consent_withdrawal_by_client_or_staff",
            ),
        ]

    def __str__(self) -> str:
        return f"Withdrawal of {self.consent}"


# --- Outbox: every email the clinic will send is a row -------------------------------------


class MessageKind:
    """Message kind names. A kind is unique per session, so some carry a suffix.

    Reminders are keyed by their lead time (``reminder:48h``), care notes by the snapshot's
    note id (``care:post-1``, and ``precare:pre-1`` for a pre-care note due before the
    pre-care reminder), and each reschedule's notice by the session version it
    announces (``update:v2``): a second reschedule is a new row, never a re-send of the first.
    What each family means (subject, templates, when it still stands, its .ics, its name for
    staff) is the table in plans/outbox/kinds.py.
    """

    CONFIRMATION = "confirmation"
    REMINDER = "reminder"
    UPDATE = "update"
    PRE_CARE = "precare"
    CANCELLATION = "cancellation"
    CARE = "care"
    FOLLOW_UP_INVITE = "follow_up_invite"
    CONSENT_REQUEST = "consent_request"
    # One per offer (`waitlist_offer:17`): a session's client may be offered several freed slots.
    WAITLIST_OFFER = "waitlist_offer"
    WAITLIST_OFFER_PREFIX = f"{WAITLIST_OFFER}:"
    # The client's outcome questionnaire: questionnaire:baseline, questionnaire:assessment.
    QUESTIONNAIRE = "questionnaire"
    # The invitation to a new person's intake and screening forms (about no client or session yet).
    INTAKE = "intake"
    REMINDER_PREFIX = f"{REMINDER}:"
    UPDATE_PREFIX = f"{UPDATE}:v"
    CARE_PREFIX = f"{CARE}:"
    PRE_CARE_PREFIX = f"{PRE_CARE}:"

    @staticmethod
    def reminder(hours_before: int) -> str:
        return f"{MessageKind.REMINDER_PREFIX}{hours_before}h"

    @staticmethod
    def update(version: int) -> str:
        return f"{MessageKind.UPDATE_PREFIX}{version}"

    @staticmethod
    def care(note_id: str | int) -> str:
        return f"{MessageKind.CARE_PREFIX}{note_id}"

    @staticmethod
    def pre_care(note_id: str | int) -> str:
        return f"{MessageKind.PRE_CARE_PREFIX}{note_id}"

    @staticmethod
    def waitlist_offer(offer_id: int) -> str:
        return f"{MessageKind.WAITLIST_OFFER_PREFIX}{offer_id}"

    def questionnaire(moment: str) -> str:
        return f"{MessageKind.QUESTIONNAIRE}:{moment}"

    @staticmethod
    def family(kind: str) -> str:
        """The kind without its suffix: confirmation, reminder, update, precare, care, cancellation,
        follow_up_invite."""
        return kind.split(":", 1)[0]


class MessageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


class IllegalMessageTransition(Exception):
    """A message was asked to make a move its status does not allow."""


class Message(models.Model):
    """One email to a client about one session, written in the transaction that caused it.

    The sweep finds due pending rows; a worker claims a row with a conditional UPDATE
    (exactly one winner) and holds a lease so a crashed worker's row is retried.
    """

    # Every kind is about a client's session, except the intake invitation: it goes to someone who
    # is not a client yet and names its IntakeInvitation instead (a constraint keeps the two apart).
    # Nullable, select_related joins them outer, and PostgreSQL refuses FOR UPDATE on the nullable
    # side of an outer join: lock a row with select_for_update(of=("self",)) when joining them.
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="messages", null=True, blank=True)
    session = models.ForeignKey(PlanSession, on_delete=models.CASCADE, related_name="messages", null=True, blank=True)
    intake = models.ForeignKey(
        "IntakeInvitation", on_delete=models.CASCADE, related_name="messages", null=True, blank=True
    )
    kind = models.CharField(max_length=40)
    send_at = models.DateTimeField(help_text="When it is due (UTC). Moved forward by retries after a transient error.")
    status = models.CharField(max_length=10, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    session_version = models.PositiveIntegerField(help_text="The session version (SEQUENCE) it was written for.")
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the sweep last handed it to the broker. Not handed out again until a worker claims it "
        "or NOTIFICATIONS_REQUEUE_SECONDS pass (the broker lost the task).",
    )
    claim_token = models.CharField(max_length=32, blank=True, help_text="Identifies the worker holding the lease.")
    last_error = models.TextField(blank=True)
    status_reason = models.CharField(max_length=255, blank=True, help_text="Why it was cancelled or expired.")
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField("Message-ID", max_length=255, blank=True)
    covers_sessions = models.JSONField(
        default=list, blank=True, help_text="Confirmation only: the sessions booked together that it lists."
    )
    attendance_confirmed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the client confirmed attendance with this email's link."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["send_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "kind"], name="one_message_per_session_kind"),
            models.UniqueConstraint(
                fields=["intake", "kind"], condition=Q(intake__isnull=False), name="one_message_per_intake_kind"
            ),
            models.CheckConstraint(
                condition=Q(kind=MessageKind.INTAKE, client__isnull=True, session__isnull=True, intake__isnull=False)
                | (~Q(kind=MessageKind.INTAKE) & Q(client__isnull=False, session__isnull=False, intake__isnull=True)),
                name="message_about_a_session_or_an_intake",
            ),
            models.CheckConstraint(condition=Q(status__in=MessageStatus.values), name="message_status_valid"),
            models.CheckConstraint(
                condition=~Q(status="sending") | Q(lease_until__isnull=False), name="message_sending_has_lease"
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False), name="message_sent_has_sent_at"
            ),
        ]
        indexes = [
            # The sweep reads only pending rows by due time; the partial index stays small.
            models.Index(fields=["send_at"], name="message_pending_due", condition=Q(status="pending")),
            models.Index(fields=["status", "send_at"]),
            models.Index(fields=["client", "send_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient} ({self.get_status_display()})"

    @property
    def recipient(self) -> Client | IntakeInvitation:
        """Who the email is for: the client, or the person invited to the intake forms."""
        return self.intake if self.intake_id else self.client

    @property
    def recipient_email(self) -> str:
        return self.recipient.email

    @property
    def family(self) -> str:
        return MessageKind.family(self.kind)

    @property
    def is_open(self) -> bool:
        """Still to be sent (or being sent): the rows a reschedule or cancel must deal with."""
        return self.status in (MessageStatus.PENDING, MessageStatus.SENDING)

    def _move(self, allowed: set[str], target: str) -> None:
        if self.status not in allowed:
            raise IllegalMessageTransition(
                f"Message {self.pk} ({self.kind}) is {self.get_status_display().lower()}; "
                f"it cannot become {MessageStatus(target).label.lower()}."
            )
        self.status = target

    def cancel(self, reason: str) -> None:
        self._move({MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.FAILED}, MessageStatus.CANCELLED)
        self.status_reason = reason[:255]
        self.lease_until = None
        self.claim_token = ""

    def expire(self, reason: str) -> None:
        self._move({MessageStatus.PENDING, MessageStatus.SENDING}, MessageStatus.EXPIRED)
        self.status_reason = reason[:255]
        self.lease_until = None
        self.claim_token = ""

    def rearm(self, *, send_at: dt.datetime, version: int) -> None:
        """Schedule again for a new session time (a reschedule): the row is reused, never duplicated."""
        self._move(set(MessageStatus.values), MessageStatus.PENDING)
        self.send_at = send_at
        self.session_version = version
        self.lease_until = None
        self.queued_at = None  # a task already queued finds it not due yet; the sweep hands it out again
        self.claim_token = ""
        self.status_reason = ""
        self.last_error = ""
        self.attempts = 0
        self.sent_at = None
        self.message_id = ""
        self.attendance_confirmed_at = None  # confirmed the old time, not the new one

    def _release(self) -> None:
        self.lease_until = None
        self.claim_token = ""

    def mark_sent(self, *, at: dt.datetime, message_id: str) -> None:
        self._move({MessageStatus.SENDING}, MessageStatus.SENT)
        self.sent_at, self.message_id, self.last_error = at, message_id, ""
        self._release()

    def mark_failed(self, error: str) -> None:
        self._move({MessageStatus.SENDING}, MessageStatus.FAILED)
        self.last_error = error
        self._release()

    def retry_at(self, when: dt.datetime, error: str) -> None:
        """A transient error: back to pending, due again at `when`."""
        self._move({MessageStatus.SENDING}, MessageStatus.PENDING)
        self.send_at, self.last_error = when, error
        self._release()

    def requeue_after_failure(self, *, now: dt.datetime) -> None:
        """Staff pressed Resend on a failed (or expired) message."""
        self._move({MessageStatus.FAILED, MessageStatus.EXPIRED}, MessageStatus.PENDING)
        self.send_at = now
        self.attempts = 0
        self.lease_until = None
        self.queued_at = None
        self.claim_token = ""
        self.status_reason = ""


class DeliveryAttempt(models.Model):
    """One try at handing a message to the mail server, and what happened."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="delivery_attempts")
    attempted_at = models.DateTimeField()
    succeeded = models.BooleanField()
    permanent = models.BooleanField(default=False, help_text="The error will not go away by retrying.")
    error = models.TextField(blank=True)
    smtp_code = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"{'ok' if self.succeeded else 'error'} at {self.attempted_at:%Y-%m-%d %H:%M:%S}"


# --- Standardized photos (services/photos.py writes these) ---------------------------------


class PhotoView(models.Model):
    """One standard angle of the face photographed at every visit (front, left 45°, right 45°).

    Admin-editable: a clinic may add a view or retire one (inactive views keep their photos)."""

    code = models.SlugField(max_length=30, unique=True, help_text="Short fixed name, e.g. 'front', 'left-45'.")
    name = models.CharField(max_length=60)
    guidance = models.CharField(
        max_length=300, blank=True, help_text="How to pose the client, shown on the capture page."
    )
    position = models.PositiveSmallIntegerField(default=0, help_text="Order on the capture page.")
    active = models.BooleanField(default=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class Photo(models.Model):
    """One standard view taken at one visit: the session's photo set is its photos.

    The image and its thumbnail live in the clinical-photo storage (settings.STORAGES
    "clinical_photos") under names that say nothing about the client; they are served only by
    the permission-checked view, never by a storage URL. One photo per (session, view): the
    database refuses a second, so a double submit or two tablets cannot duplicate it."""

    session = models.ForeignKey(PlanSession, on_delete=models.CASCADE, related_name="photos")
    view = models.ForeignKey(PhotoView, on_delete=models.PROTECT, related_name="photos")
    image_name = models.CharField(max_length=255, unique=True, editable=False)
    thumbnail_name = models.CharField(max_length=255, unique=True, editable=False)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    byte_size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, help_text="Of the stored (re-encoded) image.")
    taken_at = models.DateTimeField()
    taken_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["taken_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "view"], name="one_photo_per_session_view"),
            models.CheckConstraint(condition=Q(width__gte=1, height__gte=1), name="photo_has_size"),
        ]

    def __str__(self) -> str:
        return f"{self.view} photo of session {self.session_id}"


# --- Outcomes: clinician scores and the client's own questionnaire ----------------------------


class ScoreMoment(models.TextChoices):
    """When an outcome is measured: before the first needle, and at the assessment after the series."""

    BASELINE = "baseline", "Baseline (session 1)"
    ASSESSMENT = "assessment", "Final assessment"


class Gais(models.IntegerChoices):
    """The Global Aesthetic Improvement Scale's five points, as clinicians rate it."""

    VERY_MUCH_IMPROVED = 1, "Very much improved"
    MUCH_IMPROVED = 2, "Much improved"
    IMPROVED = 3, "Improved"
    NO_CHANGE = 4, "No change"
    WORSE = 5, "Worse"


class PoreGradeAnchor(models.Model):
    """What each clinician-rated pore grade (0-4) means, in words shown beside the choice.

    Admin-editable so a clinic can adopt its own photographic anchors; the five grades are fixed
    (the report compares grades across years, so a grade may be reworded, never added)."""

    grade = models.PositiveSmallIntegerField(unique=True, validators=[MaxValueValidator(4)])
    label = models.CharField(max_length=60)
    description = models.CharField(max_length=300)

    history = HistoricalRecords()

    class Meta:
        ordering = ["grade"]
        constraints = [models.CheckConstraint(condition=Q(grade__lte=4), name="pore_anchor_grade_0_4")]

    def __str__(self) -> str:
        return f"{self.grade}: {self.label}"


class OutcomeScore(models.Model):
    """A clinician's rating of a plan's result at one moment: the pore grade at baseline, and at
    the assessment the pore grade again with the GAIS. One per (plan, moment): a second rating
    corrects the first through the service, which keeps its history."""

    plan = models.ForeignKey(TreatmentPlan, on_delete=models.CASCADE, related_name="outcome_scores")
    session = models.ForeignKey(
        PlanSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="outcome_scores"
    )
    moment = models.CharField(max_length=10, choices=ScoreMoment.choices)
    pore_grade = models.PositiveSmallIntegerField(validators=[MaxValueValidator(4)])
    gais = models.PositiveSmallIntegerField(choices=Gais.choices, null=True, blank=True)
    # For clinics with a skin analyser: its reading is recorded, never used in the report's
    # figures (no device's pore measure is validated against the clinician's grade).
    device_measurement = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    device_name = models.CharField(max_length=80, blank=True)
    notes = models.TextField(blank=True)
    rated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    rated_at = models.DateTimeField()

    history = HistoricalRecords()

    class Meta:
        ordering = ["plan_id", "moment"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "moment"], name="one_outcome_score_per_plan_moment"),
            models.CheckConstraint(condition=Q(pore_grade__lte=4), name="outcome_pore_grade_0_4"),
            models.CheckConstraint(
                condition=Q(gais__isnull=True) | Q(gais__gte=1, gais__lte=5), name="outcome_gais_1_5"
            ),
            # The GAIS rates change since baseline: it has no meaning before treatment.
            models.CheckConstraint(
                condition=Q(moment="assessment") | Q(gais__isnull=True), name="outcome_gais_at_assessment_only"
            ),
            models.CheckConstraint(
                condition=Q(device_measurement__isnull=True) | ~Q(device_name=""),
                name="outcome_device_reading_names_device",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_moment_display()} score of plan {self.plan_id}"


class AnswerType(models.TextChoices):
    SCALE_0_10 = "scale_0_10", "0 to 10"
    SCALE_1_5 = "scale_1_5", "1 to 5"
    YES_NO = "yes_no", "Yes / no"


class OutcomeQuestion(models.Model):
    """One question of the client's own outcome questionnaire (admin-editable wording).

    Our own questions, not a licensed instrument's. `code` is fixed for the three the report
    reads (satisfaction, pore-visibility, recommend); a clinic may add others, which are asked
    and stored but not charted."""

    code = models.SlugField(max_length=40, unique=True)
    text = models.CharField(max_length=300)
    answer_type = models.CharField(max_length=12, choices=AnswerType.choices)
    low_label = models.CharField(max_length=60, blank=True, help_text="What the lowest value means.")
    high_label = models.CharField(max_length=60, blank=True, help_text="What the highest value means.")
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)
    # "Would you recommend it?" means nothing before the first treatment: such a question is
    # asked at the assessment only.
    asked_at_baseline = models.BooleanField(
        default=True, help_text="Also asked before the first session (untick for questions about the result)."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text

    @property
    def value_range(self) -> tuple[int, int]:
        return {AnswerType.SCALE_0_10: (0, 10), AnswerType.SCALE_1_5: (1, 5), AnswerType.YES_NO: (0, 1)}[
            self.answer_type
        ]


class QuestionnaireResponse(models.Model):
    """The client's answers for one plan at one moment, filled once from a signed link.

    The row is written when the invitation is queued (so the link names it), and
    `submitted_at` is set once: the database refuses a second response for the same moment."""

    plan = models.ForeignKey(TreatmentPlan, on_delete=models.CASCADE, related_name="questionnaires")
    moment = models.CharField(max_length=10, choices=ScoreMoment.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["plan_id", "moment"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "moment"], name="one_questionnaire_per_plan_moment"),
        ]

    def __str__(self) -> str:
        return f"{self.get_moment_display()} questionnaire of plan {self.plan_id}"

    @property
    def is_submitted(self) -> bool:
        return self.submitted_at is not None


class QuestionnaireAnswer(models.Model):
    response = models.ForeignKey(QuestionnaireResponse, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(OutcomeQuestion, on_delete=models.PROTECT, related_name="answers")
    value = models.SmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["response", "question"], name="one_questionnaire_answer_per_question"),
            models.CheckConstraint(condition=Q(value__gte=0, value__lte=10), name="questionnaire_value_0_10"),
        ]

    def __str__(self) -> str:
        return f"{self.question_id}: {self.value}"

    @property
    def value_label(self) -> str:
        """The answer as the client chose it: "Yes"/"No", or "7 of 10"."""
        if self.question.answer_type == AnswerType.YES_NO:
            return "Yes" if self.value else "No"
        return f"{self.value} of {self.question.value_range[1]}"


# --- A new person's intake and screening, filled in by them before the first consultation -----


class IllegalIntakeTransition(Exception):
    """The invitation cannot move this way (already submitted, revoked, reviewed...)."""


class IntakeStatus(models.TextChoices):
    SENT = "sent", "Sent"
    COMPLETED = "completed", "Completed by the client"
    NEEDS_CALL = "needs_call", "Completed by the client: needs a call"
    REVIEWED = "reviewed", "Reviewed"
    REVOKED = "revoked", "Withdrawn"
    EXPIRED = "expired", "Link expired"


class IntakeInvitation(models.Model):
    """A person who called the clinic is sent a link to fill in their intake and screening
    (services/intake.py). They are not a client until a clinician reviews the answers: only then
    is the Client created (with the Fitzpatrick type, which only staff assess), through the same
    service the staff intake uses.

    The answers are kept as the person gave them, as JSON in the shape the review hands to
    clients.client_create; the row is the link's scope (expiry, revocation and once-only live here).
    """

    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    # {"date_of_birth": "1990-05-01", "phone": "...", "email_consent": true, "oiliness": "...",
    #  "pore_concern": "...", "screening": {"<code>": [true, "2026-01-02" | null], ...}}
    answers = models.JSONField(default=dict, blank=True)
    needs_call = models.BooleanField(
        default=False, help_text="A yes the protocols' rules stop, defer or review: the clinic calls before the visit."
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    client = models.OneToOneField(
        Client, on_delete=models.SET_NULL, null=True, blank=True, related_name="intake_invitation"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(expires_at__gt=F("created_at")), name="intake_expires_after_created"),
            # Filled in once, and only while it was open: never both withdrawn and answered.
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(submitted_at__isnull=True), name="intake_revoked_or_submitted"
            ),
            models.CheckConstraint(
                condition=Q(reviewed_at__isnull=True) | Q(submitted_at__isnull=False),
                name="intake_reviewed_after_submit",
            ),
            models.CheckConstraint(
                condition=Q(client__isnull=True) | Q(reviewed_at__isnull=False), name="intake_client_from_review"
            ),
            models.CheckConstraint(
                condition=Q(needs_call=False) | Q(submitted_at__isnull=False), name="intake_call_from_answers"
            ),
        ]
        indexes = [models.Index(fields=["submitted_at", "reviewed_at"])]

    def __str__(self) -> str:
        return f"Intake of {self.full_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def status(self, *, now: dt.datetime | None = None) -> str:
        now = now or timezone.now()
        if self.reviewed_at:
            return IntakeStatus.REVIEWED
        if self.submitted_at:
            return IntakeStatus.NEEDS_CALL if self.needs_call else IntakeStatus.COMPLETED
        if self.revoked_at:
            return IntakeStatus.REVOKED
        return IntakeStatus.EXPIRED if now >= self.expires_at else IntakeStatus.SENT

    def status_label(self, *, now: dt.datetime | None = None) -> str:
        return IntakeStatus(self.status(now=now)).label

    def refusal(self, *, now: dt.datetime) -> str:
        """Why the link no longer opens the form ("" while it does)."""
        if self.submitted_at:
            return "We have already received your forms, thank you. There is nothing more to fill in."
        if self.revoked_at:
            return "This link was withdrawn by the clinic."
        if now >= self.expires_at:
            return "This link has expired."
        return ""

    def revoke(self, *, by, now: dt.datetime) -> None:
        if self.submitted_at or self.revoked_at:
            raise IllegalIntakeTransition(f"{self} is {self.status_label(now=now).lower()}; it cannot be withdrawn.")
        self.revoked_at, self.revoked_by = now, by

    def mark_reviewed(self, *, client: Client, by, now: dt.datetime) -> None:
        if not self.submitted_at or self.reviewed_at:
            raise IllegalIntakeTransition(f"{self} is {self.status_label(now=now).lower()}; it cannot be reviewed.")
        self.reviewed_at, self.reviewed_by, self.client = now, by, client
