"""Keep personal data out of log lines.

Code logs ids, never names or contact details; this filter is the safety net for what slips
through anyway (an exception message quoting a row, a library logging a recipient). It masks
email addresses and phone numbers in the message and in any traceback text. Attached to the
console handler in settings.LOGGING, so it covers every logger that reaches it.
"""

from __future__ import annotations

import logging
import re

EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# International (+44 / 0044) or national (leading 0) numbers with at least 9 digits, allowing
# spaces, dots, dashes and brackets between them. ISO dates and times start with 1 or 2, so
# they are not mistaken for phone numbers; over-masking a rare id beats leaking a number.
PHONE = re.compile(r"(?<![\w+])(?:\+|0)(?:[\s().-]*\d){8,}")
# A request line in an access log ("GET /clients/?q=Zoe+Quinn HTTP/1.1"): client search puts what
# was typed into the query string, so it is cut off (runserver's django.server log; gunicorn's
# access log is configured without it in clinic/gunicorn.conf.py).
QUERY_STRING = re.compile(r"\b((?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) [^\s?\"]*)\?[^\s\"]*")
EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"


def redact(text: str) -> str:
    return PHONE.sub(PHONE_MASK, EMAIL.sub(EMAIL_MASK, QUERY_STRING.sub(r"\1", text)))


class RedactPersonalData(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a badly formatted record is logged as it is, not dropped
            return True
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
