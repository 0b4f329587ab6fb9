"""The Django admin a clinic admin lives in: protocols and their inlines, staff, rooms, clients.

Business validation stays in the models' clean() methods; this module only turns the JSON
fields into form fields people can fill in (checkboxes, "0.5, 0.75, 1.0") and words the
duplicate-row errors that only a formset can see. Plans and sessions are shown read-only:
they are written by services (plan creation, booking), never edited here.
"""

from __future__ import annotations

import itertools
import json
from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db.models import Count, TextField
from django.forms.models import BaseInlineFormSet
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from plans.outbox.kinds import FAMILIES
from plans.outbox.kinds import label as kind_label

from . import models, safety
from .forms.clients import ClientRulesMixin
from .models import mm
from .roles import ROLES
from .services import availability, safety_exceptions, security
from .services import clients as client_services
from .services import consent as consent_services
from .services import records as record_services
from .services.booking import BookingError

# --- Form fields for the JSON columns ------------------------------------------------------


class ChoiceListField(forms.MultipleChoiceField):
    """A JSON list of choice values shown as checkboxes.

    Not required at the form level: the model's clean() says "Choose at least one ...",
    which reads better than "This field is required" next to a group of checkboxes.
    """

    widget = forms.CheckboxSelectMultiple

    def __init__(self, *, choices, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(choices=choices, **kwargs)


class CommaListField(forms.CharField):
    """A JSON list of numbers typed as "0.5, 0.75, 1.0" (or left blank for an empty list)."""

    example = "1, 2"

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def parse_item(self, text: str):
        raise NotImplementedError

    def format_item(self, value) -> str:
        return str(value)

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(self.format_item(v) for v in value)
        return value

    def to_python(self, value):
        text = super().to_python(value)
        items = [part.strip() for part in text.replace(";", ",").split(",")]
        if items == [""]:
            return []
        values = []
        for item in items:
            if not item:
                raise forms.ValidationError(
                    f"There is an empty entry: separate values with single commas, e.g. {self.example}."
                )
            values.append(self.parse_item(item))
        return values

    def has_changed(self, initial, data):
        try:
            return self.to_python(data) != (initial or [])
        except forms.ValidationError:
            return True


class DepthListField(CommaListField):
    example = "0.5, 0.75, 1.0"

    def parse_item(self, text: str) -> float:
        try:
            value = Decimal(text)
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite():
            raise forms.ValidationError(
                f"“{text}” is not a depth in millimetres: enter numbers separated by commas, e.g. {self.example}."
            )
        return float(value)

    def format_item(self, value) -> str:
        try:
            return mm(value)
        except InvalidOperation:
            return str(value)


class SessionNumberListField(CommaListField):
    example = "1, 2"

    def parse_item(self, text: str) -> int:
        if not text.isdigit() or int(text) < 1:
            raise forms.ValidationError(
                f"“{text}” is not a session number: list numbers from 1 up, e.g. {self.example}, or leave it empty."
            )
        return int(text)


# --- Protocols -----------------------------------------------------------------------------------


class ProtocolForm(forms.ModelForm):
    severities = ChoiceListField(
        choices=models.Severity.choices,
        label="Pore concerns",
        help_text="The pore concerns this protocol treats (at least one).",
    )
    oiliness_types = ChoiceListField(
        choices=models.Oiliness.choices,
        label="Oiliness types",
        help_text="The skin types this protocol treats (at least one). A client must match all criteria.",
    )
    depth_schedule = DepthListField(
        label="Depth schedule (mm)",
        help_text="Cheek depth for each session in order, separated by commas, e.g. 0.5, 0.75, 1.0: "
        "one per session, none above the cap.",
        widget=forms.TextInput(attrs={"size": 40, "placeholder": "0.5, 0.75, 1.0"}),
    )

    class Meta:
        model = models.Protocol
        fields = "__all__"  # noqa: DJ007 - the admin's fieldsets pick the fields shown
        widgets = {
            "description": forms.Textarea(attrs={"rows": 8, "cols": 100}),
            "depth_notes": forms.Textarea(attrs={"rows": 3, "cols": 100}),
        }
        labels = {
            "fitzpatrick_min": "Fitzpatrick from type",
            "fitzpatrick_max": "to type",
            "age_min": "Age from",
            "age_max": "to",
            "interval_unit": "Interval between sessions in",
            "interval_min": "minimum",
            "interval_target": "target",
            "interval_max": "maximum",
            "session_minutes": "Session length (minutes)",
            "buffer_minutes": "Cleanup after (minutes)",
            "depth_cap_mm": "Depth cap (mm)",
            "follow_up_days": "Final assessment after (days)",
        }
        help_texts = {
            "interval_target": "From one microneedling session to the next: minimum ≤ target ≤ maximum.",
            "depth_cap_mm": "No session may go deeper. SkinPen: safety above 1.5 mm not evaluated.",
            "follow_up_days": "Days after the last microneedling session (84 = 12 weeks).",
        }


class CombinationTreatmentForm(forms.ModelForm):
    after_sessions = SessionNumberListField(
        label="After sessions",
        help_text="Microneedling session numbers, e.g. 1, 2. Leave empty for every session "
        "(or every gap between sessions, for 'between').",
        widget=forms.TextInput(attrs={"size": 12, "placeholder": "1, 2"}),
    )

    class Meta:
        model = models.CombinationTreatment
        fields = "__all__"  # noqa: DJ007 - the admin's fieldsets pick the fields shown
        widgets = {"instructions": forms.Textarea(attrs={"rows": 3, "cols": 80})}


class ProtocolRows(BaseInlineFormSet):
    """A protocol's inline rows. A management form claiming fewer than no rows is a forged post
    (no browser sends one): Django would read it as "no rows" and save the protocol without the
    rows that came with it, so it is refused instead."""

    def clean(self):
        super().clean()
        if self.is_bound and self.management_form.cleaned_data.get("TOTAL_FORMS", 0) < 0:
            raise forms.ValidationError("The form's row count is not valid: reload the page and try again.")


def _unique_message(message: str) -> type[BaseInlineFormSet]:
    """A formset that words duplicate rows (which only the formset can see) for people."""

    class FriendlyDuplicates(ProtocolRows):
        def get_unique_error_message(self, unique_check):
            return message

    return FriendlyDuplicates


def _kept_rows(formset: BaseInlineFormSet) -> list[dict]:
    """The cleaned rows a valid inline formset will save (deleted and untouched extra rows left out)."""
    return [f.cleaned_data for f in formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]


class RuleFormSet(_unique_message("Two rules are set for the same screening question: keep one rule per question.")):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        actions = {row["question"].code: row["action"] for row in _kept_rows(self) if row.get("question")}
        # The floor's fixed hard stops (plans/safety.py): present, and hard stops, in every protocol.
        for problem in safety.rule_problems(actions, models.clinic_floor()):
            raise forms.ValidationError(problem + " (clinic safety floor)")


class CombinationFormSet(ProtocolRows):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        protocol = self.instance  # carries the values being saved with the inlines

        class Row:
            def __init__(self, data):
                self.kind, self.placement = data.get("kind"), data.get("placement")
                self.optional, self.after_sessions = data.get("optional"), data.get("after_sessions") or []

        problems = safety.pih_problems(
            fitzpatrick_min=protocol.fitzpatrick_min or 1,
            fitzpatrick_max=protocol.fitzpatrick_max or 6,
            combinations=[Row(row) for row in _kept_rows(self)],
            floor=models.clinic_floor(),
        )
        if problems:
            raise forms.ValidationError([p + " (clinic safety floor)" for p in problems])


class ContraindicationRuleInline(admin.TabularInline):
    model = models.ContraindicationRule
    formset = RuleFormSet
    fields = ("question", "action", "window_amount", "window_unit", "explanation")
    extra = 0
    verbose_name = "contraindication rule"


class CombinationTreatmentInline(admin.StackedInline):
    model = models.CombinationTreatment
    form = CombinationTreatmentForm
    formset = CombinationFormSet
    extra = 0
    fieldsets = (
        (None, {"fields": (("name", "kind", "position"), ("optional", "books_appointment", "duration_minutes"))}),
        (
            "Placement",
            {
                "fields": (
                    ("placement", "after_sessions"),
                    ("offset_days", "end_offset_days"),
                    ("min_days_after_mn", "min_days_before_mn"),
                )
            },
        ),
        (None, {"fields": ("instructions",)}),
    )


class CareNoteInline(admin.StackedInline):
    model = models.CareNote
    formset = ProtocolRows
    extra = 0
    fields = (("phase", "offset_days", "position"), "subject", "body")
    formfield_overrides = {
        TextField: {"widget": forms.Textarea(attrs={"rows": 4, "cols": 100})},
    }


class ReminderLeadInline(admin.TabularInline):
    model = models.ReminderLead
    formset = _unique_message("Two reminders have the same lead time: each lead time can be used once.")
    fields = ("hours_before", "include_pre_care")
    extra = 0


@admin.register(models.Protocol)
class ProtocolAdmin(SimpleHistoryAdmin):
    form = ProtocolForm
    save_as = True  # "Save as new" copies a protocol with all its inlines, e.g. to make a variant.
    save_on_top = True
    list_display = (
        "name",
        "code",
        "active",
        "priority",
        "applies_to",
        "session_count",
        "interval",
        "depths",
        "updated_at",
    )
    list_display_links = ("name",)
    list_filter = ("active", "fitzpatrick_min", "fitzpatrick_max", "interval_unit", "device")
    search_fields = ("name", "code", "description")
    prepopulated_fields = {"code": ("name",)}
    inlines = (ContraindicationRuleInline, CombinationTreatmentInline, CareNoteInline, ReminderLeadInline)
    fieldsets = (
        (None, {"fields": (("name", "code"), ("active", "priority"), "description")}),
        (
            "Who it applies to",
            {
                "description": "A client matches when every criterion holds.",
                "fields": (
                    ("fitzpatrick_min", "fitzpatrick_max"),
                    ("age_min", "age_max"),
                    "severities",
                    "oiliness_types",
                ),
            },
        ),
        (
            "The series",
            {
                "fields": (
                    "session_count",
                    ("interval_unit", "interval_min", "interval_target", "interval_max"),
                    ("session_minutes", "buffer_minutes"),
                    "device",
                )
            },
        ),
        ("Needle depth", {"fields": ("depth_schedule", "depth_cap_mm", "depth_zones", "depth_notes")}),
        ("Follow-up", {"fields": ("follow_up_days", "review_after_days", "maintenance_note")}),
    )

    @admin.display(description="applies to")
    def applies_to(self, obj: models.Protocol) -> str:
        fitz = f"{models.Fitzpatrick(obj.fitzpatrick_min).label}-{models.Fitzpatrick(obj.fitzpatrick_max).label}"
        ages = f"{obj.age_min}+" if obj.age_max is None else f"{obj.age_min}-{obj.age_max}"
        return f"Fitzpatrick {fitz}, age {ages}, {'/'.join(obj.severities)}, {'/'.join(obj.oiliness_types)}"

    @admin.display(description="interval")
    def interval(self, obj: models.Protocol) -> str:
        return f"{obj.interval_min} / {obj.interval_target} / {obj.interval_max} {obj.interval_unit}"

    @admin.display(description="depths (mm)")
    def depths(self, obj: models.Protocol) -> str:
        return " → ".join(mm(d) for d in obj.depth_schedule) + f" (cap {mm(obj.depth_cap_mm)})"


@admin.register(models.SafetyException)
class SafetyExceptionAdmin(SimpleHistoryAdmin):
    """The one floor limit a clinic may raise (the maximum depth), recorded with its reason."""

    list_display = ("max_depth_mm", "reason", "active", "created_by", "created_at")
    fields = ("max_depth_mm", "reason", "active")

    def get_readonly_fields(self, request, obj=None):
        # An exception is a record: once made, it is only switched off (and a new one recorded).
        return ("max_depth_mm", "reason") if obj else ()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            if not obj.active:
                safety_exceptions.safety_exception_end(exception=obj, by=request.user)
            return
        recorded = safety_exceptions.safety_exception_record(
            max_depth_mm=obj.max_depth_mm, reason=obj.reason, by=request.user
        )
        obj.pk = recorded.pk


# --- Screening --------------------------------------------------------------------------------


@admin.register(models.ScreeningQuestion)
class ScreeningQuestionAdmin(admin.ModelAdmin):
    list_display = ("text", "code", "asks_date", "active", "position", "rule_count")
    list_editable = ("active", "position")
    list_filter = ("active", "asks_date")
    search_fields = ("code", "text", "help_text")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_rule_count=Count("rules"))

    @admin.display(description="used by rules", ordering="_rule_count")
    def rule_count(self, obj) -> int:
        return obj._rule_count


class ScreeningAnswerInline(admin.TabularInline):
    model = models.ScreeningAnswer
    fields = ("question", "answer", "last_date")
    readonly_fields = fields
    extra = 0
    can_delete = False  # a screen answers every active question (services.clients.screening_problems)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ScreeningAdminForm(forms.ModelForm):
    class Meta:
        model = models.Screening
        fields = "__all__"  # noqa: DJ007 - the admin's fields pick the fields shown
        widgets = {"notes": forms.Textarea(attrs={"rows": 4, "maxlength": client_services.NOTES_MAX_LENGTH})}

    def clean_notes(self) -> str:
        if problem := client_services.notes_problem(self.cleaned_data["notes"]):
            raise forms.ValidationError(problem)
        return self.cleaned_data["notes"]

    def clean(self):
        cleaned = super().clean()
        day, person = cleaned.get("screened_on"), self.instance.client
        if day and (problem := client_services.screened_on_problem(day, client=person)):
            self.add_error("screened_on", problem)
        return cleaned


@admin.register(models.Screening)
class ScreeningAdmin(SimpleHistoryAdmin):
    """Read-only: a screen is a dated record. A correction is a new screen with a reason, recorded
    through the clients service (screening_correct), never an edit of the one a screener signed."""

    form = ScreeningAdminForm
    fields = ("client", "screened_on", "screened_by", "notes", "corrects", "correction_reason")
    list_display = ("client", "screened_on", "screened_by", "yes_answers", "corrects")
    list_filter = ("screened_on",)
    search_fields = ("client__first_name", "client__last_name", "client__email")
    date_hierarchy = "screened_on"
    # A screen belongs to the client who answered it: moving health answers to another client is
    # never a correction. (The autocomplete widget also crashed re-rendering a non-numeric id.)
    readonly_fields = ("client",)
    inlines = (ScreeningAnswerInline,)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("client", "screened_by").prefetch_related("answers")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Reproduced: a pregnancy "yes" was changed to "no" here, still credited to the original screener.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="answered yes")
    def yes_answers(self, obj) -> int:
        return sum(1 for answer in obj.answers.all() if answer.answer)


class ScreeningInline(admin.TabularInline):
    """Read-only: a new screen is recorded through the client's edit page (screening_record checks it is whole)."""

    model = models.Screening
    fields = ("screened_on", "screened_by", "notes")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True  # the answers are on the screening's own page
    verbose_name = "screening (open it to see the answers)"

    def has_add_permission(self, request, obj=None):
        return False


# --- Clients ----------------------------------------------------------------------------------


class PlanInline(admin.TabularInline):
    model = models.TreatmentPlan
    fields = ("protocol", "status", "requested_start", "earliest_start", "created_at")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class ClientAdminForm(ClientRulesMixin, forms.ModelForm):
    """The intake page's rules (names, age, notes, one client per email) in the admin too."""

    class Meta:
        model = models.Client
        fields = "__all__"  # noqa: DJ007 - the admin's fieldsets pick the fields shown
        widgets = {"notes": forms.Textarea(attrs={"rows": 4, "maxlength": client_services.NOTES_MAX_LENGTH})}

    def existing_client_url(self, client) -> str:
        return reverse("admin:plans_client_change", args=[client.pk])


@admin.register(models.Client)
class ClientAdmin(SimpleHistoryAdmin):
    form = ClientAdminForm
    list_display = (
        "last_name",
        "first_name",
        "email",
        "phone",
        "date_of_birth",
        "fitzpatrick",
        "oiliness",
        "pore_concern",
        "email_consent",
    )
    list_display_links = ("last_name", "first_name")
    list_filter = ("fitzpatrick", "oiliness", "pore_concern", "email_consent")
    search_fields = ("first_name", "last_name", "email", "phone")
    inlines = (ScreeningInline, PlanInline)
    fieldsets = (
        (None, {"fields": (("first_name", "last_name"), ("email", "phone"), "date_of_birth", "email_consent")}),
        ("Skin", {"fields": (("fitzpatrick", "oiliness", "pore_concern"),)}),
        (None, {"fields": ("notes",)}),
    )

    def save_model(self, request, obj, form, change):
        """Saved by the clients service, which checks the same rules as the form (and the intake page)."""
        values = {name: form.cleaned_data[name] for name in client_services.CLIENT_FIELDS if name in form.cleaned_data}
        if change:
            client_services.client_update(client=obj, **values)
            return
        created = client_services.client_create(**values)
        # The admin goes on with `obj` (inlines, change log, redirect): make it the saved row.
        for field in models.Client._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding = False


# --- Staff, rooms, availability ---------------------------------------------------------------


class WorkingHoursFormSet(BaseInlineFormSet):
    """Rows of one practitioner's week may not overlap: only the formset sees them side by side."""

    def clean(self):
        super().clean()
        spans = sorted(
            (form.cleaned_data["weekday"], form.cleaned_data["start"], form.cleaned_data["end"])
            for form in self.forms
            if form.cleaned_data
            and not form.cleaned_data.get("DELETE")
            and all(form.cleaned_data.get(k) is not None for k in ("weekday", "start", "end"))
        )
        for (day, start, end), (next_day, next_start, next_end) in itertools.pairwise(spans):
            if day == next_day and next_start < end:
                label = models.Weekday(day).label
                raise forms.ValidationError(
                    f"{label} {start:%H:%M}-{end:%H:%M} overlaps {label} {next_start:%H:%M}-{next_end:%H:%M}: "
                    "merge them into one row or split the day without overlap."
                )

    # Saved through the service: hours added go to the waitlist in the same transaction.
    def save_new(self, form, commit=True):
        return availability.working_hours_save(hours=super().save_new(form, commit=False))

    def save_existing(self, form, obj, commit=True):
        return availability.working_hours_save(hours=super().save_existing(form, obj, commit=False))


class WorkingHoursInline(admin.TabularInline):
    model = models.WorkingHours
    formset = WorkingHoursFormSet
    extra = 0


class TimeOffForm(forms.ModelForm):
    """The closure rules of services.availability as field errors; saved through time_off_save."""

    class Meta:
        model = models.TimeOff
        fields = "__all__"  # noqa: DJ007 - the admin's fields pick the fields shown

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("starts_at") and cleaned.get("ends_at"):
            problems = availability.time_off_problems(starts_at=cleaned["starts_at"], ends_at=cleaned["ends_at"])
            for field, problem in problems.items():
                if field not in self.errors:
                    self.add_error(field, problem)
        return cleaned


class TimeOffFormSet(BaseInlineFormSet):
    def save_new(self, form, commit=True):
        return availability.time_off_save(time_off=super().save_new(form, commit=False))

    def save_existing(self, form, obj, commit=True):
        return availability.time_off_save(time_off=super().save_existing(form, obj, commit=False))

    def delete_existing(self, obj, commit=True):
        if commit:
            availability.time_off_delete(time_off=obj)


class TimeOffInline(admin.TabularInline):
    model = models.TimeOff
    form = TimeOffForm
    formset = TimeOffFormSet
    fk_name = "practitioner"
    fields = ("starts_at", "ends_at", "reason")
    extra = 0


@admin.register(models.Practitioner)
class PractitionerAdmin(SimpleHistoryAdmin):
    list_display = ("display_name", "user", "active", "weekly_hours", "color")
    list_filter = ("active",)
    search_fields = ("display_name", "user__username", "user__email")
    readonly_fields = ("feed_token",)
    inlines = (WorkingHoursInline, TimeOffInline)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user").prefetch_related("working_hours")

    @admin.display(description="weekly hours")
    def weekly_hours(self, obj) -> str:
        return ", ".join(str(hours) for hours in obj.working_hours.all()) or "none"


@admin.register(models.Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("name", "active")
    list_filter = ("active",)
    search_fields = ("name",)


@admin.register(models.TimeOff)
class TimeOffAdmin(admin.ModelAdmin):
    form = TimeOffForm
    list_display = ("__str__", "practitioner", "room", "starts_at", "ends_at", "reason")
    list_filter = ("practitioner", "room")
    search_fields = ("reason", "practitioner__display_name", "room__name")
    date_hierarchy = "starts_at"

    def save_model(self, request, obj, form, change):
        availability.time_off_save(time_off=obj)

    # Lifting a closure frees time: through the service, which offers it to the waitlist.
    def delete_model(self, request, obj):
        availability.time_off_delete(time_off=obj)

    def delete_queryset(self, request, queryset):
        for time_off in queryset:
            availability.time_off_delete(time_off=time_off)


# --- Standard photo views (the photos themselves are seen only through the clinical pages) ---------


@admin.register(models.PhotoView)
class PhotoViewAdmin(SimpleHistoryAdmin):
    list_display = ("name", "code", "position", "active")
    list_editable = ("position", "active")
    list_filter = ("active",)
    search_fields = ("name", "code")

    def get_readonly_fields(self, request, obj=None):
        # The code names a view's photos for good: renaming is the name's job, retiring is `active`'s.
        return ("code",) if obj is not None and obj.photos.exists() else ()


# --- Devices and lots (the treatment record names them; a recall goes through the service) ---------


@admin.register(models.Device)
class DeviceAdmin(SimpleHistoryAdmin):
    list_display = ("name", "serial_number", "last_serviced_on", "service_due_on", "overdue", "active")
    list_filter = ("active",)
    search_fields = ("name", "serial_number")

    @admin.display(boolean=True, description="overdue for service")
    def overdue(self, obj) -> bool:
        return obj.is_overdue(today=timezone.localdate())


class RecallForm(forms.Form):
    reason = forms.CharField(
        max_length=255, label="Reason for the recall", help_text="e.g. the maker's notice and its date."
    )


@admin.register(models.Lot)
class LotAdmin(SimpleHistoryAdmin):
    list_display = ("product", "lot_number", "kind", "expires_on", "recalled_at", "treated_link")
    list_filter = ("kind",)
    search_fields = ("product", "lot_number")
    readonly_fields = ("recalled_at", "recalled_by", "recall_reason", "treated_link")
    actions = ("recall",)

    @admin.display(description="clients treated")
    def treated_link(self, obj) -> str:
        if obj.pk is None:
            return "-"
        return format_html('<a href="{}">Clients treated with this lot</a>', reverse("lot-treated", args=[obj.pk]))

    @admin.action(description="Mark the selected lots recalled", permissions=["change"])
    def recall(self, request, queryset):
        """Asks the reason on a confirmation page, then recalls each lot through the service."""
        form = RecallForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            done = 0
            for lot in queryset:
                try:
                    record_services.lot_recall(lot=lot, reason=form.cleaned_data["reason"], by=request.user)
                    done += 1
                except BookingError as exc:
                    self.message_user(request, str(exc), level="warning")
            if done:
                self.message_user(request, f"{done} lot(s) recalled: open 'Clients treated' to contact each client.")
            return None
        return TemplateResponse(
            request,
            "admin/plans/lot/recall.html",
            {
                **self.admin_site.each_context(request),
                "lots": queryset,
                "form": form,
                "opts": self.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "title": "Recall lots",
            },
        )


# --- Plans (read-only: written by services) ------------------------------------------------------


def _json_table(rows) -> str:
    """Rows of dicts (rationale, warnings) as an HTML table; anything else as pretty JSON."""
    if isinstance(rows, list) and rows and all(isinstance(row, dict) for row in rows):
        keys: list[str] = []
        for row in rows:
            keys.extend(k for k in row if k not in keys)
        head = format_html_join("", "<th>{}</th>", ((k.replace("_", " "),) for k in keys))
        body = format_html_join(
            "",
            "<tr>{}</tr>",
            ((format_html_join("", "<td>{}</td>", ((_plain(row.get(k, "")),) for k in keys)),) for row in rows),
        )
        return format_html('<table class="clinic-json"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body)
    if isinstance(rows, list) and all(isinstance(row, str) for row in rows):
        return (
            format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((row,) for row in rows))) if rows else "-"
        )
    return _pre(rows)


def _plain(value) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _pre(value) -> str:
    return format_html(
        '<pre style="white-space: pre-wrap">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False, default=str)
    )


def _snapshot(snapshot) -> str:
    if not isinstance(snapshot, dict):
        return _pre(snapshot)
    rows = format_html_join(
        "",
        "<tr><th>{}</th><td>{}</td></tr>",
        (
            (key.replace("_", " "), _json_table(value) if isinstance(value, list) else _plain(value))
            for key, value in snapshot.items()
        ),
    )
    return format_html('<table class="clinic-json">{}</table>', rows)


class ReadOnlyAdminMixin:
    """Viewable by staff with view permission; created and changed only through the app's services."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PlanSessionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = models.PlanSession
    fields = (
        "sequence",
        "kind",
        "title",
        "earliest",
        "target",
        "latest",
        "depth_mm",
        "status",
        "starts_at",
        "practitioner",
        "room",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(models.TreatmentPlan)
class TreatmentPlanAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ("__str__", "client", "protocol", "status", "requested_start", "earliest_start", "created_by")
    list_filter = ("status", "protocol")
    search_fields = ("client__first_name", "client__last_name", "client__email")
    date_hierarchy = "created_at"
    list_select_related = ("client", "protocol", "created_by")
    readonly_fields = (
        "client",
        "protocol",
        "status",
        "requested_start",
        "earliest_start",
        "selected_combinations",
        "created_by",
        "created_at",
        "review_acknowledged_by",
        "review_acknowledged_at",
        "rationale_table",
        "warnings_list",
        "review_items_list",
        "snapshot_table",
        "cohort_fitzpatrick",
        "cohort_age",
        "cohort_oiliness",
        "cohort_pore_concern",
    )
    fieldsets = (
        (None, {"fields": ("client", "protocol", "status", ("requested_start", "earliest_start"))}),
        (None, {"fields": ("selected_combinations", ("created_by", "created_at"))}),
        (
            "Made for (the outcomes report's groups)",
            {"fields": (("cohort_fitzpatrick", "cohort_age", "cohort_oiliness", "cohort_pore_concern"),)},
        ),
        ("Why this plan", {"fields": ("rationale_table", "warnings_list", "review_items_list")}),
        ("Clinician review", {"fields": (("review_acknowledged_by", "review_acknowledged_at"),)}),
        ("Protocol as planned", {"fields": ("snapshot_table",)}),
    )
    inlines = (PlanSessionInline,)

    @admin.display(description="rationale")
    def rationale_table(self, obj) -> str:
        return _json_table(obj.rationale)

    @admin.display(description="warnings")
    def warnings_list(self, obj) -> str:
        return _json_table(obj.warnings)

    @admin.display(description="needs clinician review")
    def review_items_list(self, obj) -> str:
        return _json_table(obj.review_items)

    @admin.display(description="protocol as planned (snapshot)")
    def snapshot_table(self, obj) -> str:
        return _snapshot(obj.protocol_snapshot)


@admin.register(models.PlanSession)
class PlanSessionAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ("title", "plan", "kind", "status", "starts_at", "practitioner", "room", "target")
    list_filter = ("status", "kind", "practitioner", "room")
    search_fields = ("title", "plan__client__first_name", "plan__client__last_name")
    date_hierarchy = "starts_at"
    list_select_related = ("plan__client", "plan__protocol", "practitioner", "room")


@admin.register(models.WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "seen_at")


# The record access log: read-only for everybody, a superuser included, so it can be trusted.
@admin.register(models.RecordAccess)
class RecordAccessAdmin(admin.ModelAdmin):
    list_display = ["at", "user", "action", "client_id", "reason"]
    list_filter = ["action", "at"]
    search_fields = ["user__username", "=client__id"]
    date_hierarchy = "at"
    list_select_related = ["user"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- The email outbox: read-only, written by booking services and workers ----------------------


class DeliveryAttemptInline(admin.TabularInline):
    model = models.DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["attempted_at", "succeeded", "permanent", "smtp_code", "error"]


class KindFamilyFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "family"

    def lookups(self, request, model_admin):
        return [(f.name, f.title) for f in FAMILIES.values()]

    def queryset(self, request, queryset):
        return queryset.filter(kind__startswith=self.value()) if self.value() else queryset


@admin.register(models.Message)
class MessageAdmin(admin.ModelAdmin):
    """Read-only: the outbox is written by the booking services and the workers, never by hand."""

    list_display = ["id", "recipient", "kind_in_words", "send_at", "status", "attempts", "sent_at", "last_error"]
    list_filter = ["status", KindFamilyFilter]
    search_fields = ["client__last_name", "client__first_name", "client__email", "kind", "message_id"]
    date_hierarchy = "send_at"
    list_select_related = ["client", "session__plan", "intake"]
    inlines = [DeliveryAttemptInline]

    @admin.display(description="to")
    def recipient(self, obj):
        # A client, or (an intake invitation) someone who is not a client yet.
        return obj.recipient

    @admin.display(description="kind", ordering="kind")
    def kind_in_words(self, obj):
        return kind_label(obj)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Staff accounts ----------------------------------------------------------------------------
#
# The clinic admin role holds auth.change_user, and Django's stock UserAdmin offers superuser
# status, groups and single permissions to whoever can change users: a clinic admin could make
# themselves superuser. Here only a superuser sees those fields or can change a superuser; a
# clinic admin gives accounts one of the clinic's roles (services.security.user_set_role).

# Fields that give power beyond a role; posting them without being a superuser is refused.
PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")


class RoleFormMixin(forms.Form):
    role = forms.ChoiceField(
        choices=[(role, role) for role in ROLES],
        help_text="What this person may do in the clinic app (see README, Security). Only clinic admins "
        "enter this admin.",
    )

    def clean(self):
        cleaned = super().clean()
        if sent := [name for name in PRIVILEGE_FIELDS if name in self.data]:
            raise forms.ValidationError(f"Only a superuser can set {', '.join(sent)}: give the account a role instead.")
        return cleaned


class StaffCreationForm(RoleFormMixin, AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        fields = ("username", "first_name", "last_name", "email")


class StaffChangeForm(RoleFormMixin, UserChangeForm):
    class Meta(UserChangeForm.Meta):
        fields = ("username", "password", "first_name", "last_name", "email", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["role"].initial = security.user_role(self.instance)


class ClinicUserAdmin(UserAdmin):
    staff_fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Role", {"fields": ("role", "is_active")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    staff_add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "usable_password", "password1", "password2")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Role", {"fields": ("role",)}),
    )

    def get_readonly_fields(self, request, obj=None):
        return ("last_login", "date_joined") if obj and not request.user.is_superuser else ()

    def get_fieldsets(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        return self.staff_fieldsets if obj else self.staff_add_fieldsets

    def get_form(self, request, obj=None, **kwargs):
        if not request.user.is_superuser:
            kwargs["form"] = StaffChangeForm if obj else StaffCreationForm
        return super().get_form(request, obj, **kwargs)

    def has_change_permission(self, request, obj=None):
        # Also guards the password page (UserAdmin.user_change_password asks this).
        allowed = super().has_change_permission(request, obj)
        return allowed and security.may_manage_account(editor=request.user, user=obj)

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and security.may_manage_account(editor=request.user, user=obj)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if "role" in form.cleaned_data:
            security.user_set_role(user=obj, role=form.cleaned_data["role"])


User = get_user_model()
admin.site.unregister(User)
admin.site.register(User, ClinicUserAdmin)


# --- Consent forms: editing the text makes a new version; versions and signatures never change ----


class ConsentTemplateForm(forms.ModelForm):
    """The form's name, and its wording as the next version (the current one is shown to edit)."""

    title = forms.CharField(max_length=200, help_text="The heading the client reads.")
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 24, "cols": 100}),
        help_text="Saving a changed text makes a new version. Clients who signed an earlier version keep "
        "the text they signed; new signatures use this one.",
    )

    class Meta:
        model = models.ConsentTemplate
        fields = ["kind", "name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.current_version if self.instance.pk else None
        if current is not None:
            self.fields["title"].initial = current.title
            self.fields["body"].initial = current.body
            self.fields["kind"].disabled = True  # the signatures of a form are of its kind


class ConsentVersionInline(admin.TabularInline):
    model = models.ConsentVersion
    fields = ["number", "title", "created_at", "created_by", "signature_count"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-number"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(signed=Count("signatures")).select_related("created_by")

    @admin.display(description="signatures")
    def signature_count(self, obj) -> int:
        return obj.signed


@admin.register(models.ConsentTemplate)
class ConsentTemplateAdmin(admin.ModelAdmin):
    form = ConsentTemplateForm
    list_display = ["name", "kind", "current_version_number"]
    inlines = [ConsentVersionInline]

    @admin.display(description="current version")
    def current_version_number(self, obj) -> str:
        current = obj.current_version
        return f"v{current.number}" if current else "none"

    def save_model(self, request, obj, form, change):
        # The name is the form's own; the wording goes through the service, which adds a version
        # only when it changed (so a signed version is never rewritten).
        super().save_model(request, obj, form, change)
        consent_services.consent_template_revise(
            template=obj, title=form.cleaned_data["title"], body=form.cleaned_data["body"], by=request.user
        )

    def has_delete_permission(self, request, obj=None):
        return False  # signatures point at its versions


@admin.register(models.ConsentVersion)
class ConsentVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every version as it was signed: read-only for everybody."""

    list_display = ["template", "number", "title", "created_at", "created_by"]
    list_filter = ["template"]
    readonly_fields = ["template", "number", "title", "body", "created_at", "created_by"]

    def has_delete_permission(self, request, obj=None):
        return False


# --- Outcomes: the pore-grade anchors and questions are the clinic's to word; scores and answers
# are written by plans/services/outcomes.py only (a rating keeps its history there) -------------


@admin.register(models.PoreGradeAnchor)
class PoreGradeAnchorAdmin(SimpleHistoryAdmin):
    list_display = ("grade", "label", "description")
    list_display_links = ("grade", "label")
    readonly_fields = ("grade",)

    # The five grades are fixed (the report compares them across years): reword, never add or remove.
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.OutcomeQuestion)
class OutcomeQuestionAdmin(SimpleHistoryAdmin):
    list_display = ("text", "code", "answer_type", "position", "active")
    list_editable = ("position", "active")
    list_filter = ("active", "answer_type")
    search_fields = ("text", "code")

    def get_readonly_fields(self, request, obj=None):
        # Once answered, a question's code and scale name those answers for good: reword the
        # text, or retire it (`active`) and add a new one.
        return ("code", "answer_type") if obj is not None and obj.answers.exists() else ()

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj and obj.answers.exists())


@admin.register(models.OutcomeScore)
class OutcomeScoreAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    list_display = ("plan", "moment", "pore_grade", "gais", "rated_by", "rated_at")
    list_filter = ("moment", "pore_grade", "gais")
    search_fields = ("plan__client__first_name", "plan__client__last_name")
    list_select_related = ("plan__client", "rated_by")
    readonly_fields = (
        "plan",
        "session",
        "moment",
        "pore_grade",
        "gais",
        "device_measurement",
        "device_name",
        "notes",
        "rated_by",
        "rated_at",
    )

    def has_delete_permission(self, request, obj=None):
        return False


class QuestionnaireAnswerInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = models.QuestionnaireAnswer
    fields = ("question", "value")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(models.QuestionnaireResponse)
class QuestionnaireResponseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("plan", "moment", "created_at", "submitted_at")
    list_filter = ("moment", ("submitted_at", admin.EmptyFieldListFilter))
    search_fields = ("plan__client__first_name", "plan__client__last_name")
    list_select_related = ("plan__client",)
    readonly_fields = ("plan", "moment", "created_at", "submitted_at")
    inlines = (QuestionnaireAnswerInline,)

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.IntakeInvitation)
class IntakeInvitationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read only: invitations are sent, answered, withdrawn and reviewed through services/intake.py
    (the "New clients" pages), never edited here."""

    list_display = ("full_name", "email", "created_at", "submitted_at", "needs_call", "reviewed_at", "client")
    list_filter = ("needs_call",)
    search_fields = ("first_name", "last_name", "email")
    list_select_related = ("client",)
    readonly_fields = [f.name for f in models.IntakeInvitation._meta.fields]

    def has_delete_permission(self, request, obj=None):
        # Unanswered forms are withdrawn on the New clients page and old ones purged by the beat task
        # (INTAKE_KEEP_DAYS); a delete here would lose who withdrew them and when, and the email sent with them.
        return False
