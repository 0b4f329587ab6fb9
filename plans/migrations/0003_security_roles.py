"""Create the staff roles (Aesthetician, Front desk, Clinic admin) as groups with their permissions.

Permissions are normally created by a post_migrate handler, i.e. only after *all* migrations
ran, so on a fresh database none exist yet at this point. create_permissions() makes them
now from the historical models (it also creates the content types); it is idempotent.
The role table lives in plans/roles.py; the same sync also runs after every migrate (see
PlansConfig.ready) so that permissions of later models and flushed test databases are covered.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from plans.roles import ROLES, sync_roles


def create_roles(apps, schema_editor):
    using = schema_editor.connection.alias
    for app_config in apps.get_app_configs():
        # create_permissions skips apps whose models_module is None, as historical app configs are.
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
        app_config.models_module = None
    sync_roles(apps, using=using)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.using(schema_editor.connection.alias).filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("plans", "0002_default_protocols"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
