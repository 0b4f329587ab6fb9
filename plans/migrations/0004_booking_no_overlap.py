"""No practitioner or room is ever double-booked: PostgreSQL exclusion constraints.

Hand-written because Django's ExclusionConstraint is PostgreSQL-only and the app also
runs on SQLite, where the booking service's lock and overlap check (under SQLite's
IMMEDIATE write lock) are the guard. Only booked and completed sessions occupy time.
"""

from django.db import migrations

CONSTRAINTS = {
    "session_practitioner_no_overlap": "practitioner_id",
    "session_room_no_overlap": "room_id",
}


def add_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    for name, column in CONSTRAINTS.items():
        schema_editor.execute(
            f"ALTER TABLE plans_plansession ADD CONSTRAINT {name} EXCLUDE USING gist "
            f"({column} WITH =, tstzrange(starts_at, blocked_until) WITH &&) "
            "WHERE (status IN ('booked', 'completed'))"
        )


def drop_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in CONSTRAINTS:
        schema_editor.execute(f"ALTER TABLE plans_plansession DROP CONSTRAINT IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("plans", "0003_security_roles")]

    operations = [migrations.RunPython(add_constraints, drop_constraints)]
