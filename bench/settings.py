"""Production settings plus the benchmark's empty view (bench/urls.py) for gunicorn runs."""

from clinic.settings import *  # noqa: F403 - the real settings, one override

ROOT_URLCONF = "bench.urls"
