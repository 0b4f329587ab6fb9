"""Factories for the protocol inlines and screening, used by plan and client tests (DB and browser)."""

import factory

from plans import models
from tests.factories import ProtocolFactory


class ScreeningQuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ScreeningQuestion
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"question_{n}")
    text = factory.LazyAttribute(lambda q: f"{q.code.replace('_', ' ').capitalize()}?")
    position = factory.Sequence(lambda n: n)


class ContraindicationRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ContraindicationRule

    protocol = factory.SubFactory(ProtocolFactory)
    question = factory.SubFactory(ScreeningQuestionFactory)
    action = models.RuleAction.HARD_STOP
    explanation = "For tests."


class CombinationTreatmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.CombinationTreatment

    protocol = factory.SubFactory(ProtocolFactory)
    name = "Superficial glycolic peel"
    kind = models.CombinationKind.PEEL
    placement = models.Placement.BETWEEN
    min_days_after_mn = 7
    min_days_before_mn = 7


class CareNoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.CareNote

    protocol = factory.SubFactory(ProtocolFactory)
    phase = models.CarePhase.PRE
    offset_days = -7
    subject = "Stop retinoids"
    body = "Stop retinoids, acids and benzoyl peroxide a week before."


class ReminderLeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ReminderLead

    protocol = factory.SubFactory(ProtocolFactory)
    hours_before = 48


def _question(code: str, text: str, asks_date: bool = False) -> models.ScreeningQuestion:
    question, _ = models.ScreeningQuestion.objects.update_or_create(
        code=code, defaults={"text": text, "asks_date": asks_date, "active": True}
    )
    return question


def clinic_protocol(**overrides) -> models.Protocol:
    """A protocol like the shipped defaults: hard stop, review and deferral rules, a peel, care notes, reminders.

    It is the only active protocol and its three questions the only active screening
    questions, whatever default data a migration loaded, so tests pin their own catalogue.
    """
    protocol = ProtocolFactory(**overrides)
    models.Protocol.objects.exclude(pk=protocol.pk).update(active=False)
    pregnancy = _question("pregnant_nursing", "Pregnant or nursing?")
    anticoagulants = _question("anticoagulants", "Taking anticoagulants?")
    isotretinoin = _question("isotretinoin", "Taken isotretinoin?", asks_date=True)
    models.ScreeningQuestion.objects.exclude(pk__in=[pregnancy.pk, anticoagulants.pk, isotretinoin.pk]).update(
        active=False
    )
    ContraindicationRuleFactory(
        protocol=protocol, question=pregnancy, action="hard_stop", explanation="Pregnancy or nursing (SkinPen IFU)"
    )
    ContraindicationRuleFactory(
        protocol=protocol, question=anticoagulants, action="review", explanation="Needs the doctor's approval"
    )
    ContraindicationRuleFactory(
        protocol=protocol,
        question=isotretinoin,
        action="defer",
        window_amount=6,
        window_unit="months",
        explanation="Clinics wait 6 months after isotretinoin",
    )
    CombinationTreatmentFactory(protocol=protocol)
    CareNoteFactory(protocol=protocol)
    CareNoteFactory(protocol=protocol, phase="post", offset_days=1, subject="Mineral SPF")
    ReminderLeadFactory(protocol=protocol, hours_before=48)
    ReminderLeadFactory(protocol=protocol, hours_before=24)
    return protocol


NO_TO_ALL = {"pregnant_nursing": (False, None), "anticoagulants": (False, None), "isotretinoin": (False, None)}
