from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.db.models.signals import post_migrate


class PlansConfig(AppConfig):
    name = "plans"
    verbose_name = "Treatment plans"

    def ready(self) -> None:
        from clinic.folders import ensure_var_folders
        from plans.aggregates import register_sqlite_functions
        from plans.roles import sync_roles_after_migrate

        ensure_var_folders()

        # Permissions are created by auth's post_migrate handler; ours must run after it,
        # which holds because "plans" comes after "django.contrib.auth" in INSTALLED_APPS.
        post_migrate.connect(sync_roles_after_migrate, sender=self, dispatch_uid="plans.sync_roles")
        # The outcomes report's median on SQLite (plans/aggregates.py).
        connection_created.connect(register_sqlite_functions, dispatch_uid="plans.sqlite_functions")
