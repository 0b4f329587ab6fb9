"""The Celery and outbox settings that delivery relies on."""

import subprocess
import sys

from django.conf import settings


def test_celery_is_configured_for_at_least_once_delivery_with_bounded_tasks():
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert 0 < settings.CELERY_TASK_SOFT_TIME_LIMIT < settings.CELERY_TASK_TIME_LIMIT
    assert settings.EMAIL_TIMEOUT > 0
    # A live worker never loses its lease: the lease outlasts the task's hard time limit.
    assert settings.NOTIFICATIONS_LEASE_SECONDS > settings.CELERY_TASK_TIME_LIMIT
    assert settings.CELERY_BEAT_SCHEDULE["sweep-due-messages"] == {
        "task": "plans.tasks.sweep_due_messages",
        "schedule": 60.0,
    }


def test_a_malformed_outbox_setting_stops_start_up_naming_the_variable():
    for name, value in (("NOTIFICATIONS_GRACE_MINUTES", "soon"), ("NOTIFICATIONS_CARE_NOTE_HOUR", "25")):
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "import os, django; os.environ['DJANGO_SETTINGS_MODULE']='clinic.settings'; django.setup()",
            ],
            env={"PATH": "/usr/bin:/bin", "DEBUG": "true", name: value},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode != 0 and "ImproperlyConfigured" in result.stderr and name in result.stderr
