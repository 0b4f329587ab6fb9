"""A pre-care note due before the first pre-care reminder (e.g. "avoid tanning" at D−14) is its
own email on its day; read at D−7 it would be too late to follow."""

import datetime as dt

import pytest
import time_machine

from plans import outbox
from plans.models import Message, MessageStatus
from plans.planning import ProtocolParams
from tests.helpers.clock import local
from tests.helpers.outbox import book, cancel, complete, reschedule, text_body
from tests.helpers.plans import OUTBOX_SNAPSHOT, booked_plan

pytestmark = pytest.mark.django_db
UTC = dt.UTC

WITH_D14 = {
    **OUTBOX_SNAPSHOT,
    "care_notes": [
        {"id": "pre-14", "phase": "pre", "offset_days": -14, "subject": "Avoid tanning", "body": "No sunbeds."},
        *OUTBOX_SNAPSHOT["care_notes"],
    ],
}
assert ProtocolParams.from_snapshot(WITH_D14)  # still a snapshot the app could have written


def kinds(session):
    return {m.kind: m for m in Message.objects.filter(session=session)}


@time_machine.travel(local(2026, 1, 5, 10), tick=False)
def test_a_note_due_before_the_pre_care_reminder_gets_its_own_row_at_the_care_note_hour():
    (session,) = book(booked_plan(starts=[local(2026, 2, 3, 15)], snapshot=WITH_D14))
    rows = kinds(session)
    # D−14 of 3 February is 20 January, at 09:00 London (UTC in winter).
    assert rows["precare:pre-14"].send_at == dt.datetime(2026, 1, 20, 9, tzinfo=UTC)
    # D−7 is covered by the 7-day reminder, which lists every pre-care note: no separate row.
    assert "precare:pre-7" not in rows


@time_machine.travel(local(2026, 1, 5, 10), tick=False)
def test_booked_too_late_for_the_note_day_writes_no_separate_row():
    (session,) = book(booked_plan(starts=[local(2026, 1, 15)], snapshot=WITH_D14))
    assert "precare:pre-14" not in kinds(session)
    assert "reminder:168h" in kinds(session)


def test_rescheduling_re_times_the_note_and_cancelling_withdraws_it():
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        (session,) = book(booked_plan(starts=[local(2026, 2, 3)], snapshot=WITH_D14))
        reschedule(session, local(2026, 2, 17))
        row = kinds(session)["precare:pre-14"]
        assert row.send_at == dt.datetime(2026, 2, 3, 9, tzinfo=UTC) and row.session_version == 1
        cancel(session)
    row.refresh_from_db()
    assert row.status == MessageStatus.CANCELLED


def test_the_note_arrives_once_naming_the_appointment_and_a_moved_session_is_not_stale(smtp_server):
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        (session,) = book(booked_plan(starts=[local(2026, 2, 3, 15)], snapshot=WITH_D14))
    due = local(2026, 1, 20, 9, 0, 30)
    with time_machine.travel(due, tick=False):
        ids = outbox.sweep_due(due)
        results = {outbox.deliver(i) for i in ids}
        assert outbox.sweep_due(due) == []
    assert results == {"sent"}
    # Only the note is due at its moment: the confirmation's moment (5 Jan) is long past, so the
    # sweep expired it instead of sending it two weeks late.
    mails = smtp_server.wait_for(len(ids))
    (note,) = [m for m in mails if "Avoid tanning" in m["Subject"]]
    assert note["Subject"] == ("Before your appointment on Tuesday 3 February at 15:00: Avoid tanning")
    body = text_body(note)
    assert "No sunbeds." in body and "Microneedling session 1 of 3" in body
    assert "Confirm you will attend" in body


def test_completion_cancels_a_note_still_pending():
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        (session,) = book(booked_plan(starts=[local(2026, 2, 3)], snapshot=WITH_D14))
        complete(session, local(2026, 1, 5, 11))  # recorded early (data fix by staff): nothing stale follows
    assert kinds(session)["precare:pre-14"].status == MessageStatus.CANCELLED
