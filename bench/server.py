"""Serve the app with gunicorn on loopback for benchmarks, as a clinic would run it.

DEBUG is off (no query log, manifest static files), the URLs are the app's plus an
empty view (bench/settings.py) that every page is compared with. Staff sessions are
made directly in the database so a load script needs no login form (and does not trip
the login lockout).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    """Terminate (a graceful shutdown: running work finishes), then kill if it hangs."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(database_url: str) -> dict[str, str]:
    from django.conf import settings

    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": database_url,
        "DEBUG": "false",
        # The caller's key, so sessions it writes (staff_cookies) are valid on the server.
        "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
    }


@dataclass
class Server:
    host: str
    port: int

    def request(
        self, method: str, path: str, *, cookies: dict[str, str] | None = None, body: bytes = b"", headers=None
    ) -> tuple[int, bytes, http.client.HTTPResponse]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            h = {"Host": f"{self.host}:{self.port}", **(headers or {})}
            if cookies:
                h["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
            conn.request(method, path, body=body or None, headers=h)
            response = conn.getresponse()
            return response.status, response.read(), response
        finally:
            conn.close()


def staff_cookies(username: str) -> dict[str, str]:
    """Cookies of a logged-in session for `username`, written straight to the session store.

    The server shares the database and SECRET_KEY, so it accepts the session. Send the
    CSRF cookie's value back as the X-CSRFToken header on POSTs (`csrf_headers`).
    """
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils.crypto import get_random_string

    user = get_user_model().objects.get(username=username)
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    # The backend a password login records: the model backend (axes' comes first and logs nobody in).
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return {settings.SESSION_COOKIE_NAME: store.session_key, settings.CSRF_COOKIE_NAME: get_random_string(32)}


def csrf_headers(cookies: dict[str, str], server: Server) -> dict[str, str]:
    from django.conf import settings

    return {
        "X-CSRFToken": cookies[settings.CSRF_COOKIE_NAME],
        "Origin": f"http://{server.host}:{server.port}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


@contextlib.contextmanager
def gunicorn(database_url: str, *, workers: int = 2, threads: int = 1) -> Iterator[Server]:
    """Start gunicorn on a free loopback port; yield once it answers; stop it afterwards."""
    env = server_env(database_url)
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    log = open(ROOT / "var" / "bench-gunicorn.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "-c", "clinic/gunicorn.conf.py", "clinic.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
            "--worker-class", "gthread" if threads > 1 else "sync", "--timeout", "120",
            "--access-logfile", "-" if os.environ.get("BENCH_ACCESS_LOG") else "/dev/null",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=log,
    )  # fmt: skip
    server = Server("127.0.0.1", port)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {proc.returncode}; see var/bench-gunicorn.log")
            try:
                status, _, _ = server.request("GET", "/bench/empty/")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer within 60 s; see var/bench-gunicorn.log")
            time.sleep(0.2)
        yield server
    finally:
        stop(proc)
        log.close()
