"""Production settings pass Django's deployment check; every page carries a strict CSP our templates obey."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def _production_env(tmp_path, **extra) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTEST"))}
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="clinic.example",
        CLINIC_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **extra,
    )
    return env


def _manage(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_deployment_check_reports_nothing_under_production_settings(tmp_path):
    result = _manage(_production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout, result.stdout


def test_production_settings_are_hardened(tmp_path):
    code = (
        "from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, "
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, s.X_FRAME_OPTIONS, s.SECURE_PROXY_SSL_HEADER)"
    )
    plain = _manage(_production_env(tmp_path), "shell", "-c", code)
    (line,) = [line for line in plain.stdout.splitlines() if "DENY" in line]
    assert line.split() == ["True", "True", "True", "31536000", "True", "True", "DENY", "None"], (
        plain.stdout + plain.stderr
    )
    proxied = _manage(
        _production_env(tmp_path, TRUST_X_FORWARDED_PROTO="true", SECURE_HSTS_SECONDS="3600"), "shell", "-c", code
    )
    assert "3600" in proxied.stdout and "('HTTP_X_FORWARDED_PROTO', 'https')" in proxied.stdout, proxied.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["login", "home"])
def test_pages_carry_a_content_security_policy_without_inline_scripts_or_styles(client, aesthetician, page):
    client.force_login(aesthetician)
    response = client.get(reverse(page))
    policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["form-action"] == "'self'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_htmx_is_told_not_to_inject_inline_styles_or_evaluate_code(client):
    page = client.get(reverse("login")).content.decode()
    assert '<meta name="htmx-config" content=\'{"includeIndicatorStyles": false, "allowEval": false}\'>' in page


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>(?P<body>.*?)</script>", re.S | re.I)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)
INLINE_STYLE = re.compile(r"<style\b|<[^>]+\sstyle\s*=", re.I)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.I)


def _violations(text: str) -> list[str]:
    found = [f"inline <script>: {m['body'].strip()[:60]!r}" for m in INLINE_SCRIPT.finditer(text) if m["body"].strip()]
    found += [f"event handler attribute: {m.group(0)[:60]!r}" for m in EVENT_HANDLER.finditer(text)]
    found += [f"inline style: {m.group(0)[:60]!r}" for m in INLINE_STYLE.finditer(text)]
    found += [f"javascript: URL: {m.group(0)!r}" for m in JS_URL.finditer(text)]
    return found


def test_the_template_scan_catches_what_the_policy_would_block():
    bad = '<script>alert(1)</script><a href="#" onclick="x()">x</a><div style="color:red"></div><a href="javascript:x">'
    assert len(_violations(bad)) == 4
    assert _violations('<script src="/static/app.js"></script><script type="application/json" src="x"></script>') == []


def test_no_template_has_inline_scripts_event_handlers_or_inline_styles():
    problems = []
    # Email templates are not pages: mail clients strip <style> blocks, so emails need inline styles.
    for template in sorted(t for t in TEMPLATES.rglob("*.html") if t.relative_to(TEMPLATES).parts[0] != "emails"):
        problems += [f"{template.relative_to(TEMPLATES)}: {v}" for v in _violations(template.read_text())]
    assert not problems, (
        "The Content-Security-Policy blocks these in the browser; move the code into a static .js file "
        "(data-* attributes for values) and the style into static/css/clinic.css:\n  " + "\n  ".join(problems)
    )


def test_no_view_opts_out_of_csrf_protection():
    plans = Path(settings.BASE_DIR) / "plans"
    exempt = {
        f"{f.relative_to(plans.parent)}:{line}"
        for f in plans.rglob("*.py")
        for line in re.findall(r"@csrf_exempt\n(?:@.*\n|#.*\n)*def (\w+)", f.read_text())
    }
    # One-click unsubscribe (RFC 8058) is POSTed by mail clients without cookies; its signed token
    # is the authorisation. Nothing else may opt out.
    allowed = {"plans/views/public.py:unsubscribe"}
    assert exempt <= allowed, (
        f"Every form posts with a CSRF token, public signed-link pages included: {exempt - allowed}"
    )
    assert "django.middleware.csrf.CsrfViewMiddleware" in settings.MIDDLEWARE


@pytest.mark.django_db
def test_the_csrf_cookie_lasts_as_long_as_the_session_not_a_year(client):
    cookie = client.get(reverse("login")).cookies["csrftoken"]
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    assert cookie["max-age"] == "" and cookie["expires"] == ""  # gone when the browser closes


def test_without_expiry_at_browser_close_the_csrf_cookie_lasts_the_session_age(tmp_path):
    env = _production_env(tmp_path, SESSION_EXPIRE_AT_BROWSER_CLOSE="false", SESSION_COOKIE_AGE="3600")
    result = _manage(env, "shell", "-c", "from django.conf import settings as s; print('age', s.CSRF_COOKIE_AGE)")
    assert "age 3600" in result.stdout, result.stdout + result.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["css/clinic.css", "vendor/htmx/htmx.min.js"])
def test_static_files_carry_the_same_security_headers_as_pages(client, settings, path):
    settings.WHITENOISE_USE_FINDERS = True  # serve from the source folders, as before collectstatic
    settings.WHITENOISE_AUTOREFRESH = True
    response = client.get(f"/static/{path}")
    assert response.status_code == 200
    page = client.get(reverse("login"))
    assert response["Content-Security-Policy"] == page["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
