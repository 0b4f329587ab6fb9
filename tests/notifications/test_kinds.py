"""The table of message kinds: every family has its templates, and staff read kinds in words."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.template.loader import get_template
from django.urls import reverse

from plans import outbox
from plans.models import Message
from plans.outbox import kinds
from plans.outbox.kinds import FAMILIES
from tests.helpers.clock import local
from tests.helpers.outbox import book, complete, reschedule
from tests.helpers.plans import booked_plan

ROOT = Path(settings.BASE_DIR)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_has_a_subject_a_text_and_an_html_template(family):
    for suffix in ("subject.txt", "txt", "html"):
        get_template(f"emails/{family}.{suffix}")


def test_no_outbox_function_is_more_complex_than_fifteen_branches():
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ruff"), "check", "--select", "C901", "--config",
         "lint.mccabe.max-complexity = 15", "plans/outbox", "plans/tasks.py"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout


@pytest.mark.django_db
def test_staff_read_each_kind_in_words_on_the_message_list_client_page_and_admin(
    client, aesthetician, clinic_admin, smtp_server
):
    with time_machine.travel(local(2026, 1, 5, 10), tick=False):
        first, second = book(booked_plan(starts=[local(2026, 1, 20), local(2026, 2, 17)]))
        # Sent, so a reschedule announces itself with an update of its own.
        assert outbox.deliver(Message.objects.get(kind="confirmation").pk) == "sent"
        reschedule(second, local(2026, 2, 18))
        reschedule(second, local(2026, 2, 19))
    with time_machine.travel(local(2026, 1, 20, 10, 30), tick=False):
        complete(first, local(2026, 1, 20, 10))
    labels = {m.kind: kinds.label(m) for m in Message.objects.select_related("session__plan")}
    assert labels["confirmation"] == "Booking confirmation"
    assert labels["reminder:168h"] == "Reminder, 7 days before"
    assert labels["reminder:24h"] == "Reminder, 1 day before"
    assert labels["update:v2"] == "Update (2nd change)"
    assert labels["care:post-1"] == "Aftercare, day 1"
    assert labels["care:post-0"] == "Aftercare, the day of treatment"

    client.force_login(aesthetician)
    timeline = client.get(reverse("client-messages", args=[first.plan.client_id])).content.decode()
    listing = client.get(reverse("messages"), {"status": "pending"}).content.decode()
    for page in (timeline, listing):
        assert "Reminder, 2 days before" in page and "Update (2nd change)" in page
        assert ">reminder:48h<" not in page and ">update:v2<" not in page
    assert "Aftercare, day 5" in timeline and "Restart actives" not in timeline
    client.force_login(clinic_admin)
    admin = client.get("/admin/plans/message/").content.decode()
    assert "Aftercare, day 1" in admin and "Reminder, 7 days before" in admin
    assert ">reminder:168h<" not in admin


def test_the_beat_schedule_and_queued_tasks_name_tasks_that_exist():
    """Task names are pinned with name=: moving the code behind them must not orphan the
    beat schedule or the tasks already waiting in a queue."""
    from clinic.celery import app

    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks
    assert "plans.tasks.send_messages" in app.tasks
