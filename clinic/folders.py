"""Create the folders the embedded defaults write to (settings.VAR_FOLDERS), once per process start.

Called when Django is set up (plans.apps) and when a Celery worker or beat starts, since beat
can publish to the filesystem broker before anything else has run.
"""

from pathlib import Path

from django.conf import settings


def ensure_var_folders(**_signal_kwargs) -> None:
    for folder in getattr(settings, "VAR_FOLDERS", []):
        Path(folder).mkdir(parents=True, exist_ok=True)
