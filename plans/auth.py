"""How staff permissions are read: Django's ModelBackend, in one query instead of two.

Every staff page asks `has_perm` (the role decides what the page shows), and ModelBackend
reads the user's own permissions and their groups' permissions in two queries. Roles are
groups (plans/roles.py) and a user may also hold a permission directly; one query with both
joins reads the same set, cached on the user object for the request as ModelBackend does.
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Q


class ModelBackendOneQuery(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            permissions = Permission.objects.all()
            if not user_obj.is_superuser:
                permissions = permissions.filter(Q(user=user_obj) | Q(group__user=user_obj))
            rows = permissions.order_by().values_list("content_type__app_label", "codename")
            user_obj._perm_cache = {f"{app}.{codename}" for app, codename in rows}
        return user_obj._perm_cache
