"""Races through the front door: gunicorn on the test database and requests released together.

The fixture `race_server` (tests/conftest.py) starts the server; every package whose write
endpoints race (booking, safety, screenings) fires at it with `fire`.
"""

import datetime as dt
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import time_machine
from django.conf import settings
from django.db import connection
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from bench.server import Server, csrf_headers, stop
from tests.helpers.clock import LONDON

ON_POSTGRES = settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
# SQLite serialises every writer, so nothing races there: the race tests skip with this reason.
NEEDS_POSTGRES = "needs PostgreSQL: SQLite serialises every writer, so nothing races"
ROOT = Path(__file__).resolve().parents[2]


def real_now() -> dt.datetime:
    """The clock gunicorn sees: a test's frozen clock (time_machine) does not reach another process."""
    if time_machine.escape_hatch.is_travelling():
        return time_machine.escape_hatch.datetime.datetime.now(dt.UTC)
    return dt.datetime.now(dt.UTC)


TODAY = real_now().astimezone(LONDON).date()  # the clinic's real day, not the machine's
DAY = TODAY + dt.timedelta(days=60 - TODAY.weekday())  # a Monday about two months ahead
ROUNDS = 8


@contextmanager
def gunicorn_server(var_dir: Path) -> Iterator[Server]:
    """gunicorn on the test database. The caller's process binds the socket and hands gunicorn
    its descriptor, so requests queue in the backlog until a worker takes them: no wait for the
    server to come up. On exit, any traceback gunicorn logged (a 500) fails the test with it."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "SECRET_KEY": settings.SECRET_KEY,  # so the sessions staff_cookies writes are valid there
        "DEBUG": "true",
        "ALLOWED_HOSTS": "127.0.0.1",
        "CLINIC_VAR_DIR": str(var_dir),  # the outbox's filesystem broker writes here
        "LOG_LEVEL": "WARNING",
        # Every request of a round must reach its view, not the per-address limit of public links.
        "PUBLIC_RATE_LIMIT_REQUESTS": "1000",
    }
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    log_path = var_dir / "gunicorn.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "clinic.wsgi:application",
            "--bind", f"fd://{sock.fileno()}", "--workers", "2", "--threads", "8",
            "--worker-class", "gthread", "--timeout", "120", "--access-logfile", "/dev/null",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=log, pass_fds=[sock.fileno()],
    )  # fmt: skip
    try:
        yield Server("127.0.0.1", sock.getsockname()[1])
    finally:
        stop(proc)
        log.close()
        sock.close()
        errors = log_path.read_text(errors="replace")
        assert "Traceback" not in errors, errors[-5000:]


def anonymous_cookies() -> dict:
    """A client's browser opening a signed link: no session, only the CSRF cookie a form sends back."""
    return {settings.CSRF_COOKIE_NAME: "k" * 32}


def fire(server: Server, requests: list[tuple[str, dict]], cookies) -> list[int]:
    """POST every (path, form) at once (a barrier releases the threads together); the statuses, in order."""
    return [status for status, _body in fire_reading(server, requests, cookies)]


def fire_reading(server: Server, requests: list[tuple[str, dict]], cookies) -> list[tuple[int, bytes]]:
    """As `fire`, with each answer's body too."""
    return fire_each(server, [(path, form, cookies) for path, form in requests])


def fire_each(
    server: Server, requests: list[tuple[str, dict, dict]], *, json: bool = True, multipart: bool = False
) -> list[tuple[int, bytes]]:
    """POST every (path, form, cookies) at once, each request with its own cookies (a client's
    browser racing a staff tablet); (status, body) in order. `json=False` asks for the pages.
    `multipart=True` sends the form as multipart/form-data (file uploads: values may be files)."""
    barrier = threading.Barrier(len(requests))
    answers: list[tuple[int, bytes]] = [(0, b"")] * len(requests)

    def send(i: int, path: str, form: dict, cookies: dict) -> None:
        headers = csrf_headers(cookies, server) | ({"Accept": "application/json"} if json else {})
        if multipart:
            headers["Content-Type"] = MULTIPART_CONTENT
            body = encode_multipart(BOUNDARY, form)
        else:
            body = urlencode(form, doseq=True).encode()
        barrier.wait(timeout=60)
        status, content, _response = server.request("POST", path, cookies=cookies, body=body, headers=headers)
        answers[i] = (status, content)

    threads = [threading.Thread(target=send, args=(i, *r)) for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return answers


def minutes_from_today(n: int) -> dt.datetime:
    """A start for round `n` of a race on today's appointments: a few minutes ago, one round
    two minutes apart, so a practitioner is busy once per round. In the first hour after
    the clinic's midnight "ago" would be yesterday, so the rounds go a few minutes ahead
    instead: the test never depends on the hour it runs at."""
    now = real_now().astimezone(LONDON)
    offset = dt.timedelta(minutes=5 + 2 * n)
    start = now - offset if (now - offset).date() == now.date() and now.hour >= 1 else now + offset
    return start.astimezone(dt.UTC)


def wall(moment: dt.datetime) -> str:
    return moment.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")
