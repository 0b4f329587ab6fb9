"""Refuse requests no page can answer before anything parses them.

Each of these used to reach a view or a middleware and end as a 500 (with DEBUG off):
- a form body declared in a charset other than UTF-8 (``charset=utf-16``/``utf-7``): Django
  raises BadRequest when request.POST is read, and the CSRF check in the error handlers reads it
  again, so the 400 turned into a bare 500;
- a NUL byte (``%00``) in the path or query string: PostgreSQL refuses NUL in any text it is
  asked to compare (``/feeds/a%00b.ics``), and no URL of ours can contain one; likewise text
  that is not valid UTF-8, or a lone surrogate, which no database can store.

The answer is the readable 400 page (plans.views.errors.bad_request).
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from django.http import HttpRequest

from plans.views.errors import bad_request

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _text_problem(raw: str) -> str:
    """Why a percent-encoded path or query string is unusable ('' when it is fine)."""
    data = unquote_to_bytes(raw.replace("+", " "))
    if b"\x00" in data:
        return "The address contains a NUL character."
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "The address is not valid UTF-8 text."
    return ""


def request_problem(request: HttpRequest) -> str:
    content_type, _, params = request.META.get("CONTENT_TYPE", "").partition(";")
    if content_type.strip().lower() in FORM_TYPES:
        for param in params.split(";"):
            name, _, value = param.partition("=")
            charset = value.strip().strip('"').lower()
            if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
                return "Forms must be sent as UTF-8 text."
    # The raw path as sent (PATH_INFO is already decoded by the WSGI server, as latin-1).
    path = request.path_info
    if "\x00" in path:
        return "The address contains a NUL character."
    if any("\ud800" <= char <= "\udfff" for char in path):
        return "The address is not valid UTF-8 text."
    return _text_problem(request.META.get("QUERY_STRING", ""))


class RejectMalformedRequests:
    """First in the chain, so no middleware (CSRF, sessions, axes) meets such a request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        if problem := request_problem(request):
            return bad_request(request, problem)
        return self.get_response(request)
