"""A calendar week reads each distinct protocol snapshot once (selectors.sharing_snapshots): plans
made from the same protocol version share it; a plan from another version keeps its own."""

import datetime as dt

import pytest
from django.utils import timezone

from plans import selectors
from plans.models import TreatmentPlan
from tests.helpers.plans import OUTBOX_SNAPSHOT, booked_plan
from tests.helpers.snapshots import protocol_snapshot

pytestmark = pytest.mark.django_db


def test_plans_with_one_snapshot_share_it_and_parse_it_once_and_another_version_keeps_its_own(
    django_assert_num_queries,
):
    start = timezone.now() + dt.timedelta(days=3)
    same = [booked_plan(starts=[start + dt.timedelta(hours=h)], snapshot=OUTBOX_SNAPSHOT) for h in (0, 2)]
    four = protocol_snapshot(name="Four sessions", session_count=4)
    other = booked_plan(starts=[start + dt.timedelta(hours=4)], snapshot=four)
    ids = {p.pk for p in [*same, other]}

    with django_assert_num_queries(2):
        plans = selectors.sharing_snapshots(TreatmentPlan.objects.only("id", "status"), ids)
    assert plans[same[0].pk].protocol_snapshot is plans[same[1].pk].protocol_snapshot
    assert plans[same[0].pk].params is plans[same[1].pk].params
    assert plans[other.pk].params.session_count == 4
    assert plans[same[0].pk].params.session_count == OUTBOX_SNAPSHOT["session_count"] != 4
    # Exactly what each plan has stored, as its own typed reader reads it.
    for pk, plan in plans.items():
        assert plan.protocol_snapshot == TreatmentPlan.objects.get(pk=pk).protocol_snapshot


def test_no_plans_no_queries(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert selectors.sharing_snapshots(TreatmentPlan.objects.only("id"), set()) == {}
