import functools
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command

from plans.models import Protocol
from tests.factories import ProtocolFactory


def test_system_checks_pass():
    call_command("check", fail_level="WARNING")


@pytest.mark.django_db
def test_migrations_are_complete():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_database_refuses_a_depth_schedule_shorter_than_the_session_count():
    from django.db import IntegrityError, transaction

    before = Protocol.objects.count()  # the shipped defaults are already there
    with pytest.raises(IntegrityError), transaction.atomic():
        ProtocolFactory(session_count=4, depth_schedule=[0.5, 0.75, 1.0])
    assert Protocol.objects.count() == before


def _settings_error(env_overrides: dict[str, str]) -> str:
    env = {"PATH": "/usr/bin:/bin", "DEBUG": "true", **env_overrides}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='clinic.settings'; django.setup()",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    return result.stderr


def test_a_bad_database_url_stops_start_up_naming_the_variable():
    assert "DATABASE_URL" in _settings_error({"DATABASE_URL": "mysqlx://nowhere"})


def test_a_non_boolean_debug_stops_start_up_naming_the_variable():
    error = _settings_error({"DEBUG": "maybe"})
    assert "ImproperlyConfigured" in error and "DEBUG" in error


def test_debug_off_requires_a_secret_key():
    error = _settings_error({"DEBUG": "false", "ALLOWED_HOSTS": "clinic.example"})
    assert "SECRET_KEY" in error


def test_importing_settings_writes_nothing_and_start_up_creates_the_var_folders(tmp_path):
    var = tmp_path / "var"
    env = {**os.environ, "DEBUG": "true", "CLINIC_VAR_DIR": str(var), "CELERY_BROKER_URL": "filesystem://"}
    env.pop("DATABASE_URL", None)
    run = functools.partial(subprocess.run, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60)
    imported = run([sys.executable, "-c", "import clinic.settings"])
    assert imported.returncode == 0, imported.stderr
    assert not var.exists(), "importing the settings created folders"
    checked = run([sys.executable, "manage.py", "check"])
    assert checked.returncode == 0, checked.stderr
    assert {p.name for p in (var / "celery").iterdir()} == {"queue", "processed", "control"}
    assert (var / "static").is_dir()
