"""How a page says who may open it. Every view uses exactly one of these.

Staff pages (function views):

    @staff_required("plans.view_clinical_record")
    def client_detail(request, client_id): ...

    @staff_required()            # any member of a role (holds some permission in this app)
    def home(request): ...

Anonymous visitors are redirected to the login page; logged-in users without the permission
get 403 (templates/403.html). Several permissions must all be held. Responses are marked
no-store so client data is not kept in browser caches.

Public pages (signed links opened by clients, who never log in) use `@public_rate_limited`
and must be named `public-...` in urls.py (tests/security/test_url_access.py expects them to
be reachable anonymously and everything else not).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from plans.services.ratelimit import rate_limit_hit


def _refuse(request: HttpRequest, permissions: tuple[str, ...]) -> HttpResponse | None:
    """None when the user may proceed; a login redirect for anonymous users; 403 otherwise."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    allowed = user.has_perms(permissions) if permissions else user.has_module_perms("plans")
    if not user.is_active or not allowed:
        raise PermissionDenied("Your role does not include this page.")
    return None


def _private(response: HttpResponse) -> HttpResponse:
    # Staff pages show client data: no browser or proxy may keep a copy (shared computers,
    # the back button after logging out).
    add_never_cache_headers(response)
    return response


def staff_required(*permissions: str) -> Callable:
    """Decorate a staff view with the permissions ("app_label.codename") it needs."""
    if len(permissions) == 1 and callable(permissions[0]):
        raise TypeError("Write @staff_required() or @staff_required('plans.<codename>'), with parentheses.")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            return _refuse(request, permissions) or _private(view(request, *args, **kwargs))

        wrapped.required_permissions = permissions
        return wrapped

    return decorator


# --- Public pages --------------------------------------------------------------------------


def client_ip(request: HttpRequest) -> str:
    """The visitor's address. Behind TRUSTED_PROXY_COUNT proxies, the one the outermost proxy saw.

    Each proxy appends the address it received from to X-Forwarded-For, so the entry that
    many places from the right was written by our own first proxy; anything further left was
    sent by the client and could be forged. Used by axes (login lockout) and the rate limiter.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


def login_username(request: HttpRequest, credentials: dict | None = None) -> str:
    """The username axes records for a login: what was typed, without NUL and at most 150 characters.

    Axes stores it in a 255-character column; PostgreSQL refuses NUL and longer text (a 500 on
    any login form, the admin's included). No account can have such a username anyway.
    """
    source = credentials if credentials else getattr(request, "POST", {})
    username = source.get(settings.AXES_USERNAME_FORM_FIELD) or ""
    return str(username).replace("\x00", "")[:150]


def _rate_limit_key(scope: str, address: str) -> str:
    # Keyed with SECRET_KEY so the table holds no IP addresses, not even as plain hashes.
    return hmac.new(settings.SECRET_KEY.encode(), f"{scope}|{address}".encode(), hashlib.sha256).hexdigest()


def public_rate_limited(
    view: Callable | None = None, *, requests: int | None = None, window_seconds: int | None = None
) -> Callable:
    """Limit how often one address may open a public page; over the limit it gets a 429 page.

    `@public_rate_limited` uses settings.PUBLIC_RATE_LIMIT_REQUESTS per
    PUBLIC_RATE_LIMIT_WINDOW_SECONDS; `@public_rate_limited(requests=5, window_seconds=60)`
    sets its own. Each view is counted separately. Counts live in the database, shared by
    every worker (see services/ratelimit.py).
    """

    def decorator(func: Callable) -> Callable:
        scope = f"{func.__module__}.{func.__qualname__}"

        @wraps(func)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            result = rate_limit_hit(
                key=_rate_limit_key(scope, client_ip(request)),
                limit=requests or settings.PUBLIC_RATE_LIMIT_REQUESTS,
                window_seconds=window_seconds or settings.PUBLIC_RATE_LIMIT_WINDOW_SECONDS,
            )
            if not result.allowed:
                minutes = -(-result.retry_after_seconds // 60)
                response = render(request, "429.html", {"retry_minutes": minutes}, status=429)
                response["Retry-After"] = str(result.retry_after_seconds)
                return response
            return func(request, *args, **kwargs)

        wrapped.public_page = True
        return wrapped

    return decorator(view) if view is not None else decorator
