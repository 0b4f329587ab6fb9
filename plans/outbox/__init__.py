"""The email outbox: every email is a row written with the change that causes it, and delivered once.

    kinds.py     the table of message kinds (subject and templates, still-stands check, .ics, staff label)
    timing.py    when each row falls due, in the clinic's local time
    write.py     the rows a booking, reschedule, cancellation or completion writes (in its transaction)
    delivery.py  the sweep, the atomic claim with a lease, sending and recording each attempt
    render.py    a row as the email the client receives
    links.py     signed confirm / cancel / unsubscribe links

The booking services call the write hooks; Celery adapters in plans/tasks.py call delivery.
"""

from plans.outbox.delivery import (
    backoff_delay,
    claim,
    classify_error,
    deliver,
    deliver_many,
    expire_overdue,
    hand_out,
    message_id_header,
    release,
    sweep_due,
)
from plans.outbox.write import on_session_cancelled, on_session_completed, on_session_rescheduled, on_sessions_booked

__all__ = [
    "backoff_delay",
    "claim",
    "classify_error",
    "deliver",
    "deliver_many",
    "expire_overdue",
    "hand_out",
    "message_id_header",
    "on_session_cancelled",
    "on_session_completed",
    "on_session_rescheduled",
    "on_sessions_booked",
    "release",
    "sweep_due",
]
