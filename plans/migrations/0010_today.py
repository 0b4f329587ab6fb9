"""The "book here" list and the Today worklist read sessions still to book by their window.

Numbered 0010 beside the parallel 0008 and 0009; the lead re-points its dependency when merging.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('plans', '0009_safety_floor'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='plansession',
            index=models.Index(condition=models.Q(('status__in', ['proposed', 'cancelled', 'no_show'])), fields=['latest', 'earliest'], name='session_bookable_window'),
        ),
    ]
