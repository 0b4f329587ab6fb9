"""What `make run` starts with: the links in emails point at the port it serves, and the
embedded broker keeps every file under CLINIC_VAR_DIR."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from django.conf import settings

from tests.helpers.worker import filesystem_folders

ROOT = Path(settings.BASE_DIR)


def make_run_command(**env: str) -> str:
    """The command line `make run` would start honcho with (make -n runs nothing)."""
    environ = {k: v for k, v in os.environ.items() if k != "CLINIC_BASE_URL"} | env
    out = subprocess.run(["make", "-n", "run", *(f"{k}={v}" for k, v in env.items() if k == "PORT")],
                         cwd=ROOT, env=environ, capture_output=True, text=True, check=True).stdout  # fmt: skip
    (line,) = [line for line in out.splitlines() if "honcho start" in line]
    return line


def test_make_run_on_another_port_writes_email_links_for_that_port():
    assert "CLINIC_BASE_URL='http://127.0.0.1:8101'" in make_run_command(PORT="8101")
    assert "CLINIC_BASE_URL='http://127.0.0.1:8000'" in make_run_command()


def test_an_explicit_public_address_wins_over_the_port():
    line = make_run_command(PORT="8101", CLINIC_BASE_URL="https://clinic.example")
    assert "CLINIC_BASE_URL='https://clinic.example'" in line


def test_the_filesystem_broker_keeps_its_control_folder_under_var(tmp_path):
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        return
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    var = Path(settings.VAR_DIR).resolve()
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        assert Path(options[key]).resolve().is_relative_to(var), key
    # The worker tests point the web process at a temporary var/ the same way settings.py does.
    assert set(filesystem_folders(tmp_path)) == set(options)
    assert not (ROOT / "control").exists()
