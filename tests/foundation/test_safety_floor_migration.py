"""0009 upgrades an installed clinic's shipped rows only where they are still exactly as shipped."""

import importlib

import pytest
from django.apps import apps

from plans import models

migration = importlib.import_module("plans.migrations.0009_safety_floor")


def _as_shipped_before_0009():
    """Put the shipped rows back the way releases before 0009 created them."""
    p3 = models.Protocol.objects.get(code=migration.P3)
    for code, (old, _new) in migration.DEFER_REVIEW.items():
        models.ContraindicationRule.objects.filter(question__code=code).update(action="defer", explanation=old)
    models.CombinationTreatment.objects.filter(protocol=p3, name=migration.PRIMING).update(end_offset_days=0)
    models.CombinationTreatment.objects.filter(protocol=p3, name=migration.RETINOID_PAUSE).update(
        instructions=migration.RETINOID_PAUSE_OLD
    )
    models.CombinationTreatment.objects.create(
        protocol=p3, name=migration.SALICYLIC, kind="peel", placement="between", instructions=migration.SALICYLIC_OLD
    )
    models.Protocol.objects.filter(code=migration.P3).update(
        description=migration.DESCRIPTIONS[migration.P3][0], depth_zones=[], review_after_days=0
    )
    return p3


@pytest.mark.django_db
def test_shipped_rows_are_upgraded_and_an_admins_edit_is_left_alone(default_protocols):
    p3 = _as_shipped_before_0009()
    # The clinic's admin had already changed P1's tan rule: theirs stays.
    models.ContraindicationRule.objects.filter(protocol__code="p1-mild-i-iii", question__code="tan_or_sunburn").update(
        explanation="Our own wording", window_amount=21
    )

    migration.update_defaults(apps, None)

    p3.refresh_from_db()
    rules = {r.question.code: r for r in p3.contraindications.select_related("question")}
    assert {rules[c].action for c in migration.DEFER_REVIEW} == {"defer_review"}
    assert p3.combinations.get(name=migration.PRIMING).end_offset_days == 7
    assert p3.combinations.get(name=migration.RETINOID_PAUSE).instructions == migration.RETINOID_PAUSE_NEW
    assert not p3.combinations.filter(name=migration.SALICYLIC).exists()
    assert p3.description == migration.DESCRIPTIONS[migration.P3][1]
    assert p3.review_after_days == 182 and p3.depth_zones == migration.ZONES
    mine = models.ContraindicationRule.objects.get(protocol__code="p1-mild-i-iii", question__code="tan_or_sunburn")
    assert (mine.action, mine.explanation, mine.window_amount) == ("defer", "Our own wording", 21)


@pytest.mark.django_db
def test_running_it_twice_changes_nothing_more(default_protocols):
    _as_shipped_before_0009()
    migration.update_defaults(apps, None)
    counts = (models.ContraindicationRule.objects.count(), models.CareNote.objects.count())

    migration.update_defaults(apps, None)

    assert (models.ContraindicationRule.objects.count(), models.CareNote.objects.count()) == counts
