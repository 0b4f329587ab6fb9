"""A real Celery worker process runs a task the web process sends: the embedded broker works end to end.

Without CELERY_BROKER_URL the worker and this test share Celery's filesystem broker in
the test's own temporary CLINIC_VAR_DIR; with CELERY_BROKER_URL=redis://... (CI's second
run) the same test goes through Redis. Either way the worker writes to this test's
database, so the test is transactional: the worker only sees committed rows.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from clinic.celery import app
from plans.models import WorkerHeartbeat
from plans.tasks import record_heartbeat
from tests.helpers.worker import filesystem_folders

BASE_DIR = Path(settings.BASE_DIR)
CELERY = BASE_DIR / ".venv" / "bin" / "celery"
WAIT_SECONDS = 20


def database_url() -> str:
    """The URL of the database this test runs on (the test database, not the development one)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@contextlib.contextmanager
def web_process_broker(var_dir: Path):
    """Point this process's Celery app at the broker a process started with CLINIC_VAR_DIR=var_dir would use.

    Settings are read once per process, so the filesystem folders are swapped on the app
    and its cached connection pools are dropped; with Redis nothing needs to change.
    """
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        yield
        return
    saved = app.conf.broker_transport_options
    app.conf.broker_transport_options = filesystem_folders(var_dir)
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield
    finally:
        if app._pool is not None:
            app._pool.force_close_all()
        app.conf.broker_transport_options = saved
        app._pool = None
        app.amqp._producer_pool = None


@pytest.fixture
def worker(tmp_path):
    """A `celery worker --pool=solo` subprocess with the same environment, on this test's database."""
    var_dir = tmp_path / "var"
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DEBUG": "true",
        "CLINIC_VAR_DIR": str(var_dir),
        "DATABASE_URL": database_url(),
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        str(CELERY) if CELERY.exists() else sys.executable,
        *([] if CELERY.exists() else ["-m", "celery"]),
        "-A",
        "clinic",
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield var_dir, process, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.mark.worker
@pytest.mark.timeout(60)
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_task_sent_from_the_web_process(worker):
    var_dir, process, log_path = worker
    name = f"test-{uuid.uuid4().hex[:12]}"

    with web_process_broker(var_dir):
        record_heartbeat.delay(name=name)

    deadline = time.monotonic() + WAIT_SECONDS
    while not WorkerHeartbeat.objects.filter(name=name).exists():
        assert process.poll() is None, f"worker exited early:\n{log_path.read_text()}"
        assert time.monotonic() < deadline, f"no heartbeat within {WAIT_SECONDS}s:\n{log_path.read_text()}"
        time.sleep(0.25)
    assert "plans.tasks.record_heartbeat" in log_path.read_text()
