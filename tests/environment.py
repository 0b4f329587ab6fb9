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
