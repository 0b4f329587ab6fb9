"""Loaded as a pytest plugin (-p) before Django starts: test runs are development runs.

Production defaults to DEBUG off and then insists on SECRET_KEY and ALLOWED_HOSTS;
the suite sets DEBUG on unless told otherwise so `pytest` works without a .env file.
Django itself still runs each test with DEBUG=False.
"""

import os

os.environ.setdefault("DEBUG", "true")
# Playwright's sync API runs an event loop in the main thread; the ORM calls our tests
# make around it are ordinary synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Property tests must not depend on luck: the same examples on every run and every machine
# (a failure found once is found again), no wall-clock deadline on a shared 2-core runner,
# and no example database carried between runs. Tests that set max_examples keep their own.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("clinic", derandomize=True, deadline=None, database=None, print_blob=True)
_hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "clinic"))
