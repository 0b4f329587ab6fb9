"""Trigram indexes for the client search on PostgreSQL (bench_client_search).

A production migration despite its name (the benchmark found the need); applied migrations
keep their names, and later ones are named for what they change.

The search matches every word against first name, last name, email and phone with
icontains (ILIKE '%word%'), which no B-tree index can serve: at 100,000 clients each
search read the whole table. GIN trigram indexes serve ILIKE '%…%' directly. Hand-written
because the app also runs on SQLite, where there is no pg_trgm and this is skipped.
"""

from django.db import migrations

COLUMNS = ("first_name", "last_name", "email", "phone")


def add_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS client_{column}_trgm ON plans_client USING gin (UPPER({column}) gin_trgm_ops)"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS client_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("plans", "0004_booking_no_overlap")]

    operations = [migrations.RunPython(add_indexes, drop_indexes)]
