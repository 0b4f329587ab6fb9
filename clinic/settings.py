"""Settings for the clinic project: one module, driven by the environment.

Every variable is documented in the README. Parsing is strict: a malformed value
stops start-up with ImproperlyConfigured naming the variable, instead of being
silently read as a default (django-environ's own bool parser maps any unknown
string to False, which is how production ends up with DEBUG on or off by accident).

Embedded defaults need no server at all: SQLite and Celery's filesystem broker
under var/, email written to files under var/mail/.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import zoneinfo
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CLINIC_VAR_DIR") or BASE_DIR / "var")

if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false, 1/0, yes/no, on/off), got {raw!r}.")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_db(name: str, default: str) -> dict:
    raw = os.environ.get(name) or default
    try:
        config = environ.Env.db_url_config(raw)
    except Exception as exc:  # environ raises several types for a malformed URL
        raise ImproperlyConfigured(f"{name} is not a valid database URL ({exc}).") from None
    engine = config.get("ENGINE", "")
    if engine not in {"django.db.backends.sqlite3", "django.db.backends.postgresql"}:
        raise ImproperlyConfigured(
            f"{name} must point at SQLite or PostgreSQL (sqlite:///path or postgres://...), got {raw!r}."
        )
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} has no database name: {raw!r}.")
    return config


def env_email(name: str) -> dict:
    raw = os.environ.get(name)
    if not raw:
        return {
            "EMAIL_BACKEND": "plans.outbox.mailfiles.EmailBackend",
            "EMAIL_FILE_PATH": str(VAR_DIR / "mail"),
        }
    try:
        config = environ.Env.email_url_config(raw)
    except Exception as exc:
        raise ImproperlyConfigured(f"{name} is not a valid email URL ({exc}).") from None
    if config.get("EMAIL_BACKEND") != "django.core.mail.backends.smtp.EmailBackend":
        raise ImproperlyConfigured(f"{name} must be an smtp:// or submission:// URL, got {raw!r}.")
    if not config.get("EMAIL_HOST"):
        raise ImproperlyConfigured(f"{name} has no host: {raw!r}.")
    return config


def env_time_zone(name: str, default: str) -> str:
    value = os.environ.get(name) or default
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(f"{name} must be an IANA time zone such as Europe/London, got {value!r}.") from None
    return value


def env_colour(name: str, default: str) -> str:
    """A #rgb or #rrggbb colour, as lower-case #rrggbb. It is written into email CSS, so nothing else passes."""
    value = (os.environ.get(name) or default).strip().lower()
    if not re.fullmatch(r"#(?:[0-9a-f]{3}|[0-9a-f]{6})", value):
        raise ImproperlyConfigured(f"{name} must be a hex colour such as #0f766e, got {value!r}.")
    return value if len(value) == 7 else "#" + "".join(c * 2 for c in value[1:])


def env_absolute_url(name: str) -> str:
    """An optional absolute http(s) URL: a relative one would break in every mail client."""
    value = os.environ.get(name, "").strip()
    if value and not re.fullmatch(r"https?://[^\s/\"'<>]+(?:/[^\s\"'<>]*)?", value):
        raise ImproperlyConfigured(f"{name} must be an absolute http(s) URL, got {value!r}.")
    return value


# --- Core -----------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

if not DEBUG:
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
elif not SECRET_KEY:
    # Development only: a fixed key so sessions survive restarts of `make run`.
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105 - DEBUG only

INSTALLED_APPS = [
    "clinic.admin_site.ClinicAdminConfig",  # django.contrib.admin with list pages that survive bad filters
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "simple_history",
    "axes",
    "csp",
    "plans",
]

MIDDLEWARE = [
    # Before everything that reads the request: a NUL in the URL or a non-UTF-8 form gets a 400 page.
    "plans.middleware.RejectMalformedRequests",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Security (see README "Security"): the Content-Security-Policy header, the user
    # recorded on every history row, and the login lockout response (axes goes last).
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"
ASGI_APPLICATION = "clinic.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "plans.context_processors.clinic",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------

DATABASES = {"default": env_db("DATABASE_URL", f"sqlite:///{VAR_DIR / 'clinic.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take SQLite's write lock at BEGIN, so two bookings
    # racing on SQLite serialise instead of both reading "free" and both writing.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 10, minimum=60)
# Reception and treatment-room computers are shared: closing the browser ends the session.
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", True)
# The CSRF cookie lives no longer than the session it protects (Django's default is a year).
CSRF_COOKIE_AGE = None if SESSION_EXPIRE_AT_BROWSER_CLOSE else SESSION_COOKIE_AGE

# Axes checks for a lockout before any other backend sees the password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend, reading permissions in one query (every staff page asks for them).
    "plans.auth.ModelBackendOneQuery",
]
# Lock a username from one address after AXES_FAILURE_LIMIT wrong passwords, for
# AXES_COOLOFF_MINUTES. Keyed by username *and* IP so a stranger cannot lock a
# colleague out from elsewhere; failures are stored in the database (shared by all workers).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "plans.permissions.client_ip"
AXES_USERNAME_CALLABLE = "plans.permissions.login_username"
# How many reverse proxies (nginx, a load balancer) sit in front of gunicorn and append
# to X-Forwarded-For. 0: trust only REMOTE_ADDR (nothing a client sends can fake its IP).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# Signed-link pages that clients open without logging in: at most this many requests per
# address per page per window (see plans.permissions.public_rate_limited).
PUBLIC_RATE_LIMIT_REQUESTS = env_int("PUBLIC_RATE_LIMIT_REQUESTS", 30, minimum=1)
PUBLIC_RATE_LIMIT_WINDOW_SECONDS = env_int("PUBLIC_RATE_LIMIT_WINDOW_SECONDS", 600, minimum=1)

# --- HTTP security headers ----------------------------------------------------------------

# No inline scripts or styles anywhere: every script and stylesheet is a static file.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    # Only behind a proxy that sets the header itself and strips any copy from the client;
    # otherwise a client could claim HTTPS and receive secure cookies over plain HTTP.
    if env_bool("TRUST_X_FORWARDED_PROTO", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Time and language ------------------------------------------------------------------

LANGUAGE_CODE = "en-gb"
USE_I18N = True
USE_TZ = True
CLINIC_TIME_ZONE = env_time_zone("CLINIC_TIME_ZONE", "Europe/London")
TIME_ZONE = CLINIC_TIME_ZONE

# --- The clinic -------------------------------------------------------------------------

CLINIC_NAME = os.environ.get("CLINIC_NAME", "Demo Skin Clinic")
CLINIC_ADDRESS = os.environ.get("CLINIC_ADDRESS", "1 High Street, London")
CLINIC_PHONE = os.environ.get("CLINIC_PHONE", "+44 20 7946 0000")
# The clinic's look in emails and on the client's pages: a logo (absolute URL, since emails are
# read far from the server; the clinic's name is shown as text without one) and the brand colour
# of headers and buttons (a calm teal by default, dark enough for white text).
CLINIC_LOGO_URL = env_absolute_url("CLINIC_LOGO_URL")
CLINIC_COLOUR = env_colour("CLINIC_COLOUR", "#0f766e")
if CLINIC_LOGO_URL:
    # The client's pages show the logo too: its origin, and only it, joins the images the CSP allows.
    _logo = urlsplit(CLINIC_LOGO_URL)
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"].append(f"{_logo.scheme}://{_logo.netloc}")
CLINIC_MIN_AGE = env_int("CLINIC_MIN_AGE", 18)
# A screening older than this (days; 183 is about 6 months) cannot make a plan: re-screen first.
SCREENING_MAX_AGE_DAYS = env_int("SCREENING_MAX_AGE_DAYS", 183, minimum=1)
# A pre-session check (the short re-screen before microneedling) counts for this many days.
PRE_SESSION_CHECK_VALID_DAYS = env_int("PRE_SESSION_CHECK_VALID_DAYS", 7, minimum=1)
# Clinical photos: an upload larger than this is refused; the stored image's long edge is
# bounded, and its thumbnail's.
CLINICAL_PHOTO_MAX_UPLOAD_BYTES = env_int("CLINICAL_PHOTO_MAX_UPLOAD_BYTES", 15 * 1024 * 1024, minimum=1024)
CLINICAL_PHOTO_MAX_EDGE = env_int("CLINICAL_PHOTO_MAX_EDGE", 2048, minimum=256)
CLINICAL_PHOTO_THUMBNAIL_EDGE = 320
CLINIC_BASE_URL = os.environ.get("CLINIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

# --- Static files -------------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Front-end libraries are installed by npm (see package.json) and served from
# node_modules through the staticfiles finders; nothing is loaded from a CDN.
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/bootstrap", NODE_MODULES / "bootstrap" / "dist"),
    ("vendor/htmx", NODE_MODULES / "htmx.org" / "dist"),
    ("vendor/event-calendar", NODE_MODULES / "@event-calendar" / "build" / "dist"),
    ("vendor/signature_pad", NODE_MODULES / "signature_pad" / "dist"),
    ("vendor/chartjs", NODE_MODULES / "chart.js" / "dist"),
]
# Clinical photos have a storage of their own: files under var/photos/ by default, an
# S3-compatible bucket in production (CLINICAL_PHOTOS_S3_BUCKET). Either way nothing is ever
# served by a storage URL: plans/views/photos.py streams each image after a permission check.
CLINICAL_PHOTOS_S3_BUCKET = os.environ.get("CLINICAL_PHOTOS_S3_BUCKET", "").strip()
if CLINICAL_PHOTOS_S3_BUCKET:
    _photo_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": CLINICAL_PHOTOS_S3_BUCKET,
            # Credentials come from the usual AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the instance role).
            "endpoint_url": os.environ.get("CLINICAL_PHOTOS_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("CLINICAL_PHOTOS_S3_REGION") or None,
            "location": os.environ.get("CLINICAL_PHOTOS_S3_PREFIX", "photos"),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _photo_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # base_url None: the storage has no public address to build a link from.
        "OPTIONS": {"location": str(VAR_DIR / "photos"), "base_url": None},
    }
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "clinical_photos": _photo_storage,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}


def _static_file_headers(headers, path: str, url: str) -> None:
    """The pages' CSP and X-Frame-Options on static files too.

    WhiteNoise answers before the CSP and clickjacking middleware run (SecurityMiddleware, ahead
    of it, still adds nosniff and the referrer policy). An SVG or HTML file opened from /static/
    is a document like any page: it may not load scripts from elsewhere or be framed.
    """
    from csp.utils import build_policy  # the pages' own builder, so both policies are the same string

    headers["Content-Security-Policy"] = build_policy()
    headers["X-Frame-Options"] = X_FRAME_OPTIONS


WHITENOISE_ADD_HEADERS_FUNCTION = _static_file_headers

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Email ------------------------------------------------------------------------------

vars().update(env_email("EMAIL_URL"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", f"{CLINIC_NAME} <reception@clinic.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20, minimum=1)

# --- Notifications (the email outbox) -----------------------------------------------------

# A message not sent within this many minutes of its due time (beat or workers were down)
# is marked expired instead of reaching the client late.
NOTIFICATIONS_GRACE_MINUTES = env_int("NOTIFICATIONS_GRACE_MINUTES", 120, minimum=1)
# Transient SMTP errors are retried with exponential back-off until this many attempts.
NOTIFICATIONS_MAX_ATTEMPTS = env_int("NOTIFICATIONS_MAX_ATTEMPTS", 5, minimum=1)
NOTIFICATIONS_BACKOFF_SECONDS = env_int("NOTIFICATIONS_BACKOFF_SECONDS", 60, minimum=1)
NOTIFICATIONS_BACKOFF_MAX_SECONDS = env_int("NOTIFICATIONS_BACKOFF_MAX_SECONDS", 3600, minimum=1)
# How long a worker holds a claimed message before another worker may take it over.
# Longer than the task's hard time limit, so a live worker never loses its lease.
NOTIFICATIONS_LEASE_SECONDS = env_int("NOTIFICATIONS_LEASE_SECONDS", 180, minimum=1)
# The sweep hands due rows to the broker NOTIFICATIONS_SWEEP_BATCH at a time (up to
# NOTIFICATIONS_SWEEP_MAX per run), NOTIFICATIONS_SEND_BATCH per task (one SMTP connection each).
NOTIFICATIONS_SWEEP_BATCH = env_int("NOTIFICATIONS_SWEEP_BATCH", 500, minimum=1)
NOTIFICATIONS_SWEEP_MAX = env_int("NOTIFICATIONS_SWEEP_MAX", 50_000, minimum=1)
NOTIFICATIONS_SEND_BATCH = env_int("NOTIFICATIONS_SEND_BATCH", 20, minimum=1)
# A row handed to the broker but not claimed within this many seconds is handed out again:
# the broker lost the task, or a killed worker held it among its reserved tasks (the
# filesystem broker has already deleted it; Redis redelivers it only after an hour). Like
# the claim's lease it defaults to the task time limit; a duplicate task is harmless, as
# only the claim winner sends.
NOTIFICATIONS_REQUEUE_SECONDS = env_int(
    "NOTIFICATIONS_REQUEUE_SECONDS", env_int("CELERY_TASK_TIME_LIMIT", 120, minimum=5), minimum=1
)
# Care notes due on a later day are sent at this hour (clinic time), not at the session's hour.
NOTIFICATIONS_CARE_NOTE_HOUR = env_int("NOTIFICATIONS_CARE_NOTE_HOUR", 9, minimum=0)
if NOTIFICATIONS_CARE_NOTE_HOUR > 23:
    raise ImproperlyConfigured(f"NOTIFICATIONS_CARE_NOTE_HOUR must be 0-23, got {NOTIFICATIONS_CARE_NOTE_HOUR}.")
# Links in emails (confirm, cancel, unsubscribe) stop working after this many days.
NOTIFICATIONS_LINK_MAX_AGE_DAYS = env_int("NOTIFICATIONS_LINK_MAX_AGE_DAYS", 90, minimum=1)
# The consent link in the email sent when a series is booked stops working after this.
CONSENT_LINK_MAX_AGE_DAYS = env_int("CONSENT_LINK_MAX_AGE_DAYS", 30, minimum=1)
# A new person's intake and screening link (services/intake.py) stops working after this.
INTAKE_LINK_MAX_AGE_DAYS = env_int("INTAKE_LINK_MAX_AGE_DAYS", 14, minimum=1)
# New-client forms that never became a client (not sent back, withdrawn, or never reviewed) are
# deleted this many days after they were sent: they hold health answers of someone the clinic
# never took on, and no client erasure can reach them.
INTAKE_KEEP_DAYS = env_int("INTAKE_KEEP_DAYS", 90, minimum=15)
# Domain used in deterministic Message-IDs and iCalendar UIDs.
NOTIFICATIONS_DOMAIN = os.environ.get("NOTIFICATIONS_DOMAIN", "clinic.example")
# Clients may cancel with the email link until this many hours before the session.
CANCELLATION_CUTOFF_HOURS = env_int("CANCELLATION_CUTOFF_HOURS", 24, minimum=0)
# The clinic's policy, shown on the client's page before they cancel or move an appointment.
CANCELLATION_POLICY_TEXT = os.environ.get(
    "CANCELLATION_POLICY_TEXT",
    f"You can cancel or move an appointment online up to {CANCELLATION_CUTOFF_HOURS} hours before it starts. "
    "After that, please call us: a late cancellation or a missed appointment may be charged.",
)
# The link to the client's own page in every email: how long it opens the page, and how many
# times a client may move one session themselves (then they call the clinic).
CLIENT_PAGE_LINK_MAX_AGE_DAYS = env_int("CLIENT_PAGE_LINK_MAX_AGE_DAYS", 60, minimum=8)
CLIENT_RESCHEDULES_PER_SESSION = env_int("CLIENT_RESCHEDULES_PER_SESSION", 2, minimum=0)
# The waitlist: a freed slot is offered by email to this many waitlisted clients at once (in
# order of request), each offer open this many hours; the beat then offers it to the next ones.
WAITLIST_OFFERS_AT_ONCE = env_int("WAITLIST_OFFERS_AT_ONCE", 3, minimum=1)
WAITLIST_OFFER_HOURS = env_int("WAITLIST_OFFER_HOURS", 12, minimum=1)
WAITLIST_SWEEP_SECONDS = env_int("WAITLIST_SWEEP_SECONDS", 60, minimum=5)

# --- Celery -----------------------------------------------------------------------------

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "filesystem://"
if not CELERY_BROKER_URL.startswith(("filesystem://", "redis://", "rediss://", "amqp://", "pyamqp://")):
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL must be filesystem://, redis://, rediss:// or amqp://, got {CELERY_BROKER_URL!r}."
    )
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue = VAR_DIR / "celery" / "queue"
    _processed = VAR_DIR / "celery" / "processed"
    # Broadcast control (purge, ping) keeps its exchange table here instead of ./control.
    _control = VAR_DIR / "celery" / "control"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "processed_folder": str(_processed),
        "control_folder": str(_control),
        "store_processed": False,
    }
else:
    # A publish must fail fast when the broker is down: the outbox row is the
    # source of truth and the next sweep re-sends, so the web request must not hang.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
    CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 120, minimum=5)
CELERY_TASK_SOFT_TIME_LIMIT = max(CELERY_TASK_TIME_LIMIT - 10, 1)
CELERY_TIMEZONE = "UTC"
# How often beat sweeps the outbox (seconds). A minute in production; the end-to-end tests
# of the whole stack sweep every second or two so they wait for emails, not for the clock.
NOTIFICATIONS_SWEEP_SECONDS = env_int("NOTIFICATIONS_SWEEP_SECONDS", 60, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {"task": "plans.tasks.record_heartbeat", "schedule": 60.0},
    "sweep-due-messages": {"task": "plans.tasks.sweep_due_messages", "schedule": float(NOTIFICATIONS_SWEEP_SECONDS)},
    "waitlist-sweep": {"task": "plans.tasks.waitlist_sweep", "schedule": float(WAITLIST_SWEEP_SECONDS)},
    "intake-purge": {"task": "plans.tasks.intake_purge", "schedule": 6 * 3600.0},
}

# Folders the embedded defaults write to. Created at start-up (clinic/folders.py), not when
# settings are imported: importing configuration should not write to the disk.
# WhiteNoise warns on every request when its root is missing (before the first collectstatic).
VAR_FOLDERS = [VAR_DIR, STATIC_ROOT]
if CELERY_BROKER_URL.startswith("filesystem://"):
    VAR_FOLDERS += [_queue, _processed, _control]

# --- Logging ------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Log lines must not carry personal data: the filter masks email addresses and phone numbers.
    "filters": {"redact_personal_data": {"()": "plans.logging.RedactPersonalData"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_personal_data"]}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # runserver's request lines: through the redacting handler instead of Django's own.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
