"""The Celery application. Configuration lives in clinic/settings.py under CELERY_*."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
@signals.beat_init.connect
def _ensure_var_folders(**kwargs) -> None:
    from clinic.folders import ensure_var_folders

    ensure_var_folders()
