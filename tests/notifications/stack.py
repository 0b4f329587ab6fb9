"""The whole stack as real processes, for end-to-end tests: web, worker and beat on this
test's database, driven over HTTP by a staff user, the way `make run` (or production) runs.

Everything runs on the real clock, so the data is shaped around "now" instead of a frozen one.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import http.cookiejar
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from plans import models
from tests.helpers.clock import LONDON
from tests.helpers.plans import plan_to_book
from tests.helpers.ports import free_port

ROOT = Path(settings.BASE_DIR)
STAFF_PASSWORD = "stack-test-pass-1"  # noqa: S105 - a test account on a throwaway database


def database_url() -> str:
    """The URL of the database this test runs on (the test database, not the development one)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = (db["USER"] or "") + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_for(predicate, *, timeout: float, what: str, procs=(), interval: float = 0.2):
    """Poll until predicate() is truthy; fail with the processes' logs at the deadline."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        for proc in procs:
            assert proc.poll() is None, f"{proc.name} exited:\n{proc.log.read_text()[-3000:]}"
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {p.name}\n{p.log.read_text()[-2500:]}" for p in procs)
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}")
        time.sleep(interval)
    return result


class Stack:
    """Starts web, worker and beat subprocesses; always stops them at teardown."""

    def __init__(self, tmp_path: Path, *, broker_url: str, email_url: str = "", sweep_seconds: int = 1):
        self.tmp_path = tmp_path
        self.var_dir = tmp_path / "var"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen] = []
        self.env = {
            **os.environ,
            "DEBUG": "true",
            "PYTHONUNBUFFERED": "1",
            "CLINIC_VAR_DIR": str(self.var_dir),
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker_url,
            "CLINIC_BASE_URL": self.url,
            "NOTIFICATIONS_SWEEP_SECONDS": str(sweep_seconds),
            "EMAIL_TIMEOUT": "30",
        }
        self.env.pop("EMAIL_URL", None)
        if email_url:
            self.env["EMAIL_URL"] = email_url

    @property
    def mail_dir(self) -> Path:
        return self.var_dir / "mail"

    def _start(self, name: str, command: list[str], ready: bytes) -> subprocess.Popen:
        log = self.tmp_path / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        proc.name, proc.log = name, log
        self.procs.append(proc)
        wait_for(lambda: ready in log.read_bytes(), timeout=60, what=f"{name} to start", procs=[proc])
        return proc

    def start_web(self, *, server: str = "runserver") -> subprocess.Popen:
        if server == "gunicorn":
            command = [str(ROOT / ".venv/bin/gunicorn"), "clinic.wsgi", "--bind", f"127.0.0.1:{self.port}",
                       "--workers", "1", "--threads", "4",
                       # Its own control socket: the default one in ~/.gunicorn is shared by every gunicorn here.
                       "--control-socket", str(self.tmp_path / "gunicorn.ctl")]  # fmt: skip
            return self._start("web", command, b"Booting worker")
        # As the Procfile starts it (without the autoreloader, which would fork a second process).
        command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{self.port}"]
        return self._start("web", command, b"Quit the server")

    def start_worker(self) -> subprocess.Popen:
        command = [sys.executable, "-m", "celery", "-A", "clinic", "worker", "--loglevel=INFO", "--pool=solo",
                   "--without-gossip", "--without-mingle", "--without-heartbeat",
                   "-n", f"stack-{self.port}@%h"]  # fmt: skip
        return self._start("worker", command, b"ready.")

    def start_beat(self) -> subprocess.Popen:
        command = [sys.executable, "-m", "celery", "-A", "clinic", "beat", "--loglevel=INFO",
                   f"--schedule={self.var_dir / 'celerybeat-schedule'}"]  # fmt: skip
        return self._start("beat", command, b"beat: Starting")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def start_on_embedded_defaults(stack) -> tuple[Stack, list[subprocess.Popen]]:
    """Web, worker and beat as `make run` starts them: the SQLite file, the filesystem broker and
    mail files. `stack` is the fixture that makes (and stops) a Stack. Skips on any other
    database: the embedded defaults are SQLite's."""
    if connection.vendor != "sqlite":
        pytest.skip("the embedded-defaults journey runs on the SQLite test database")
    s = stack(broker_url="filesystem://")
    return s, [s.start_web(), s.start_worker(), s.start_beat()]


def mail_files(s: Stack) -> list:
    """One email per file in the stack's mail folder (plans.outbox.mailfiles)."""
    if not s.mail_dir.is_dir():
        return []
    # *.eml only: an email still being written is a hidden part-file until it is renamed into place
    files = sorted(s.mail_dir.glob("*.eml"))
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in files]


def with_password(user, settings):
    """The user, able to log in to a stack's web server: it checks the password with the project's
    real hashers, not the suite's fast one."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    user.set_password(STAFF_PASSWORD)
    user.save()
    return user


class Browser:
    """A staff member's HTTP client: cookies, CSRF token, JSON answers (urllib; no extra dependency)."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def _csrf(self) -> str:
        return next((c.value for c in self.cookies if c.name == "csrftoken"), "")

    def request(self, path: str, data: dict | None = None, *, accept: str = "text/html") -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        headers = {"Accept": accept, "X-CSRFToken": self._csrf(), "Referer": self.base_url + path}
        request = urllib.request.Request(self.base_url + path, data=body, headers=headers)  # noqa: S310 - http to loopback
        try:
            with self.opener.open(request, timeout=60) as response:  # noqa: S310
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def log_in(self, username: str, password: str) -> None:
        status, page = self.request("/login/")
        assert status == 200, page[:500]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        status, page = self.request("/login/", {"username": username, "password": password,
                                                "csrfmiddlewaretoken": token})  # fmt: skip
        assert status == 200 and "Today" in page, page[:1000]

    def post_json(self, path: str, data: dict) -> tuple[int, dict]:
        status, body = self.request(path, data, accept="application/json")
        try:
            return status, json.loads(body)
        except ValueError:
            return status, {"raw": body[:2000]}


def clinic_with_a_plan(aesthetician, *, days_ahead: int = 9, **snapshot) -> tuple[models.TreatmentPlan, dt.datetime]:
    """Ana works every day round the clock (the test runs at any hour); a one-session plan
    whose session may be booked `days_ahead` days from now at 10:00 clinic time."""
    for weekday in range(7):
        models.WorkingHours.objects.create(
            practitioner=aesthetician.practitioner, weekday=weekday, start=dt.time(0), end=dt.time(23, 59)
        )
    models.Room.objects.create(name="Room A")
    day = (dt.datetime.now(LONDON) + dt.timedelta(days=days_ahead)).date()
    plan = plan_to_book(first_target=day, count=1, user=aesthetician, **snapshot)
    starts = dt.datetime.combine(day, dt.time(10), tzinfo=LONDON)
    return plan, starts
