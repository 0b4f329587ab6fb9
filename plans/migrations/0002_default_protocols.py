"""Ship the default screening questions and the five default protocols (plans/defaults.py).

The loader is idempotent and never overwrites rows an admin has edited, so running it
again (manage.py load_protocols) after this migration is safe. Reversing leaves the rows:
they may have been edited by then and belong to the clinic.
"""

from django.db import migrations


def load(apps, schema_editor):
    from plans.defaults import load_default_protocols

    load_default_protocols(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("plans", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(load, migrations.RunPython.noop),
    ]
