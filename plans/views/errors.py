"""The page a refused request gets: Django's own is a bare "Bad Request (400)" line."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponseBadRequest
from django.template import loader


def _reason(exception: Exception | str | None) -> str:
    if isinstance(exception, str):
        return exception
    if isinstance(exception, RequestDataTooBig | TooManyFieldsSent):
        return "What was sent is larger than any form of ours takes: shorten the text and try again."
    return ""


def bad_request(request: HttpRequest, exception: Exception | str | None = None) -> HttpResponseBadRequest:
    """handler400 (SuspiciousOperation, RequestDataTooBig, BadRequest), and RejectMalformedRequests' answer.

    Rendered without the request's context processors and without Django's requires_csrf_token:
    both would read the body that could not be parsed (the cause of the 400) and fail again.
    """
    context = {"reason": _reason(exception), "CLINIC_NAME": settings.CLINIC_NAME}
    return HttpResponseBadRequest(loader.render_to_string("400.html", context))
