"""The record access log in the Django admin: read-only, for clinic admins.

Kept apart from admin.py (protocols and set-up) and registered from PlansConfig.ready, so the
log can never be edited or deleted from the admin, not even by a superuser.
"""

from django.contrib import admin

from plans.models import RecordAccess


@admin.register(RecordAccess)
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
