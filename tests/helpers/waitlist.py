"""Waitlist scenarios: clients booked later than they would like, and a rival whose cancellation frees a slot."""

from __future__ import annotations

import datetime as dt

from plans.models import PlanSession
from plans.services import booking, selfservice, waitlist
from tests.helpers.clock import at
from tests.helpers.plans import plan_to_book


def booked_single(practitioner, start: dt.datetime, *, target: dt.date | None = None) -> PlanSession:
    """A one-session plan (window 7 days either side of `target`) booked at `start`."""
    plan = plan_to_book(first_target=target or start.date(), count=1)
    session = plan.sessions.get()
    booking.session_book(session=session, starts_at=start, practitioner=practitioner)
    session.refresh_from_db()
    return session


def waitlisted(practitioner, start: dt.datetime, *, target: dt.date | None = None) -> PlanSession:
    """A client booked at `start` who asked for an earlier slot on their page."""
    session = booked_single(practitioner, start, target=target)
    access = selfservice.client_access_issue(client=session.plan.client)
    waitlist.waitlist_join(access=access, session_id=session.pk)
    return session


def rival_cancels(session: PlanSession) -> PlanSession:
    return booking.session_cancel(session=session, by_client=True, reason="Cannot come")


def at_day(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return at(day, hour, minute)
