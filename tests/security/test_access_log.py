"""The web server's access log carries paths, never the query strings client search puts personal data in."""

import os
import subprocess
import sys
import time
import urllib.request

from django.conf import settings

from tests.helpers.ports import free_port


def test_gunicorn_with_the_clinic_config_logs_no_query_string_or_referrer(tmp_path):
    port = free_port()
    log = tmp_path / "access.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.update(DEBUG="true", CLINIC_VAR_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "clinic/gunicorn.conf.py", "clinic.wsgi:application",
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "--access-logfile", str(log)],
        cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/login/?q=zoe.quinn%40example.com&phone=%2B447700900123"
        request = urllib.request.Request(url, headers={"Referer": f"http://127.0.0.1:{port}/clients/?q=Zoe+Quinn"})
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - our own loopback server
                    assert response.status == 200
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
                time.sleep(0.2)
        deadline = time.monotonic() + 10
        while "/login/" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=10)
    lines = log.read_text()
    assert '"GET /login/ HTTP/1.1" 200' in lines, lines
    for secret in ("zoe", "example.com", "%40", "7700900123", "Quinn", "?"):
        assert secret not in lines, lines
