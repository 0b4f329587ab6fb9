"""Interface placeholder: the notifications branch implements these."""


def on_sessions_booked(sessions):
    """Interface placeholder: the notifications branch implements these."""


def on_session_rescheduled(session):
    """Interface placeholder: the notifications branch implements these."""


def on_session_cancelled(session):
    """Interface placeholder: the notifications branch implements these."""


def on_session_completed(session):
    """Interface placeholder: the notifications branch implements these."""
