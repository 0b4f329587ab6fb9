"""Give the shipped PIH check and interim check a window to book in.

Both were shipped with a one-day window (offset only), so a check whose day fell on a weekend
or a closure could never be booked without an override. Installed clinics get the new window
only where the row is still exactly as shipped: an admin's edit is never overwritten.
"""

from django.db import migrations, models

# (protocol code, combination name, shipped offset) -> (new offset, new end offset)
CHANGES = {
    ("p3-conservative-iv-vi", "PIH check after the first session", 21): (14, 28),
    ("p2-moderate-severe-i-iii", "Interim check 4 weeks after the last session", 28): (28, 35),
}


def widen(apps, schema_editor):
    CombinationTreatment = apps.get_model("plans", "CombinationTreatment")
    for (code, name, shipped_offset), (offset, end_offset) in CHANGES.items():
        CombinationTreatment.objects.filter(
            protocol__code=code, name=name, placement="after", offset_days=shipped_offset, end_offset_days=0
        ).update(offset_days=offset, end_offset_days=end_offset)


def narrow(apps, schema_editor):
    CombinationTreatment = apps.get_model("plans", "CombinationTreatment")
    for (code, name, shipped_offset), (offset, end_offset) in CHANGES.items():
        CombinationTreatment.objects.filter(
            protocol__code=code, name=name, placement="after", offset_days=offset, end_offset_days=end_offset
        ).update(offset_days=shipped_offset, end_offset_days=0)


HELP = (
    "After: the last day (days after the session) it may be booked, so there is a window to book in; 0 means "
    "on the offset day only. Around: days after the session the span ends."
)


class Migration(migrations.Migration):
    dependencies = [("plans", "0006_message_queued_at")]

    operations = [
        migrations.AlterField(
            model_name="combinationtreatment",
            name="end_offset_days",
            field=models.PositiveSmallIntegerField(default=0, help_text=HELP),
        ),
        migrations.AlterField(
            model_name="historicalcombinationtreatment",
            name="end_offset_days",
            field=models.PositiveSmallIntegerField(default=0, help_text=HELP),
        ),
        migrations.RunPython(widen, narrow),
    ]
