from django.contrib import admin

from plans.models import DeliveryAttempt, Message


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["attempted_at", "succeeded", "permanent", "smtp_code", "error"]


class KindFamilyFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "family"

    def lookups(self, request, model_admin):
        return [(f, f) for f in ("confirmation", "reminder", "update", "cancellation", "care", "follow_up_invite")]

    def queryset(self, request, queryset):
        return queryset.filter(kind__startswith=self.value()) if self.value() else queryset


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Read-only: the outbox is written by the booking services and the workers, never by hand."""

    list_display = ["id", "client", "kind", "send_at", "status", "attempts", "sent_at", "last_error"]
    list_filter = ["status", KindFamilyFilter]
    search_fields = ["client__last_name", "client__first_name", "client__email", "kind", "message_id"]
    date_hierarchy = "send_at"
    list_select_related = ["client"]
    inlines = [DeliveryAttemptInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
