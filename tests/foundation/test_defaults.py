"""The shipped protocols: present after migration, faithful to the domain document, safe to reload."""

from __future__ import annotations

import io
import itertools
from dataclasses import replace
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from plans import models
from plans.defaults import DEFAULT_PROTOCOLS, SCREENING_QUESTIONS, load_default_protocols
from plans.management.commands.load_demo import DEMO_CLIENTS

CODES = {
    "P1": "p1-mild-i-iii",
    "P2": "p2-moderate-severe-i-iii",
    "P3": "p3-conservative-iv-vi",
    "P4": "p4-oily-acne-prone-salicylic",
    "P5": "p5-mature-dry-sensitive",
}

# The numbers of the domain document's "Proposed defaults" (and the choices made within its ranges).
# (sessions, interval min/target/max weeks, depth schedule mm, cap mm, Fitzpatrick range)
EXPECTED = {
    "P1": (3, (3, 4, 6), [0.5, 0.75, 1.0], Decimal("1.5"), (1, 3)),
    "P2": (5, (4, 4, 8), [0.75, 1.0, 1.25, 1.5, 1.5], Decimal("1.5"), (1, 3)),
    "P3": (4, (4, 5, 8), [0.5, 0.75, 1.0, 1.0], Decimal("1.0"), (4, 6)),
    "P4": (4, (4, 4, 8), [0.5, 0.75, 1.0, 1.0], Decimal("1.0"), (1, 3)),
    "P5": (4, (4, 6, 8), [0.5, 0.75, 1.0, 1.0], Decimal("1.0"), (1, 3)),
}


def snapshot_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (
            models.ScreeningQuestion,
            models.Protocol,
            models.ContraindicationRule,
            models.CombinationTreatment,
            models.CareNote,
            models.ReminderLead,
        )
    }


@pytest.mark.django_db
def test_after_migration_the_five_default_protocols_exist_with_their_sources():
    protocols = {p.code: p for p in models.Protocol.objects.all()}

    assert set(CODES.values()) <= set(protocols)
    for code in CODES.values():
        description = protocols[code].description
        assert "[R]" in description and "Extrapolated" in description, code
        assert "SkinPen" in description, code
        assert "Kwon HH, Dermatol Surg 2018" in description, code
    assert "Harris AG, Int J Women's Dermatol 2015" in protocols[CODES["P1"]].description
    assert "Rana S, J Cosmet Dermatol 2017" in protocols[CODES["P2"]].description
    assert "Dogra, J Cosmet Dermatol 2014" in protocols[CODES["P3"]].description
    assert "Cohen & Elbuluk, JAAD 2016" in protocols[CODES["P3"]].description
    assert "Lee & Kim, Dermatol Surg 2003" in protocols[CODES["P4"]].description
    assert "PMC9784880" in protocols[CODES["P5"]].description


@pytest.mark.django_db
@pytest.mark.parametrize("label", sorted(EXPECTED))
def test_each_default_protocol_has_the_domain_documents_numbers(label):
    protocol = models.Protocol.objects.get(code=CODES[label])
    sessions, intervals, depths, cap, fitzpatrick = EXPECTED[label]

    assert protocol.session_count == sessions
    assert protocol.interval_unit == "weeks"
    assert (protocol.interval_min, protocol.interval_target, protocol.interval_max) == intervals
    assert protocol.depth_schedule == depths
    assert protocol.depth_cap_mm == cap
    assert (protocol.fitzpatrick_min, protocol.fitzpatrick_max) == fitzpatrick
    assert protocol.device == "pen"
    assert protocol.follow_up_days == 84  # final assessment 12 weeks after the last session
    assert "0.5 mm" in protocol.depth_notes  # nose and forehead cap
    assert [(r.hours_before, r.include_pre_care) for r in protocol.reminder_leads.all()] == [
        (168, True),
        (48, False),
        (24, False),
    ]
    assert protocol.maintenance_note


@pytest.mark.django_db
@pytest.mark.parametrize("label", sorted(EXPECTED))
def test_every_protocol_carries_the_shared_contraindications_and_care_notes(label):
    protocol = models.Protocol.objects.get(code=CODES[label])
    rules = {r.question.code: r for r in protocol.contraindications.select_related("question")}
    notes = {(n.phase, n.offset_days) for n in protocol.care_notes.all()}

    for code in (
        "pregnant_or_nursing",
        "isotretinoin_current",
        "bleeding_disorder",
        "steel_anaesthetic_allergy",
        "skin_cancer_in_area",
        "open_wounds",
        "active_infection",
        "inflammatory_acne_rosacea",
        "eczema_psoriasis",
    ):
        assert rules[code].action == "hard_stop", code
    for code in ("keloid_history", "anticoagulants", "diabetes", "immunosuppression", "autoimmune_disease"):
        assert rules[code].action == "review", code
    # Defer AND review, as the reference lists them under clinician review with a window.
    assert (rules["isotretinoin_past"].action, rules["isotretinoin_past"].window_amount) == ("defer_review", 6)
    assert rules["isotretinoin_past"].window_unit == "months"
    for code in ("toxin_or_filler", "tan_or_sunburn"):
        assert (rules[code].action, rules[code].window_amount, rules[code].window_unit) == ("defer_review", 14, "days")
    assert rules["toxin_or_filler_planned"].action == "review"  # filler/toxin screened on both sides
    assert {("pre", -14), ("pre", -7), ("pre", -3), ("pre", -1), ("post", 0), ("post", 1), ("post", 7)} <= notes
    assert protocol.care_notes.filter(subject__icontains="no anti-wrinkle injections or filler").exists()
    assert protocol.review_after_days == 182  # the 6-month review is a proposed visit
    assert protocol.zone_caps == [("nose", Decimal("0.5")), ("forehead", Decimal("0.5")), ("cheeks", Decimal("1.5"))]
    assert all(len(n.body) > 150 for n in protocol.care_notes.all())  # whole client-readable instructions


@pytest.mark.django_db
def test_combination_treatments_follow_the_document():
    def combos(label):
        return {c.kind: c for c in models.Protocol.objects.get(code=CODES[label]).combinations.all()}

    p2 = combos("P2")
    assert (p2["peel"].placement, p2["peel"].optional) == ("between", True)
    assert (p2["peel"].min_days_after_mn, p2["peel"].min_days_before_mn) == (14, 14)
    assert "glycolic" in p2["peel"].name.lower()
    assert (p2["assessment"].placement, p2["assessment"].after_sessions, p2["assessment"].offset_days) == (
        "after",
        [5],
        28,
    )

    p3 = list(models.Protocol.objects.get(code=CODES["P3"]).combinations.all())
    # P3 covers type IV, which the salicylic source (Arif 2015: I-III and V-VI) leaves out.
    assert not [c for c in p3 if c.kind == "peel"]
    pih = next(c for c in p3 if c.kind == "assessment")
    assert pih.placement == "after" and pih.after_sessions == [1] and 14 <= pih.offset_days <= 28
    assert (pih.offset_days, pih.end_offset_days) == (14, 28)  # "2-4 weeks after session 1", all of it bookable
    assert p2["assessment"].end_offset_days == 35  # a week to book the 4-week interim check in
    priming = next(c for c in p3 if c.kind == "priming")
    assert priming.placement == "before_first" and not priming.books_appointment
    assert (priming.offset_days, priming.end_offset_days) == (28, 7)  # D-28 to D-7, then the brightener pause
    retinoid = next(c for c in p3 if c.kind == "topical_pause" and "retinoid" in c.name.lower())
    assert (retinoid.offset_days, retinoid.books_appointment) == (14, False)  # stop retinoids D-14

    p4 = combos("P4")
    assert (p4["peel"].placement, p4["peel"].optional) == ("between", False)  # weeks 2/6/10, by default
    assert (p4["peel"].min_days_after_mn, p4["peel"].min_days_before_mn) == (14, 14)
    assert (p4["topical_pause"].offset_days, p4["topical_pause"].end_offset_days) == (7, 7)  # BPO/retinoid from D7

    for label in ("P1", "P5"):
        pause = combos(label)["topical_pause"]
        assert (pause.offset_days, pause.end_offset_days, pause.optional) == (7, 5, False)


@pytest.mark.django_db
def test_every_shipped_row_passes_the_admins_own_validation():
    for protocol in models.Protocol.objects.filter(code__in=CODES.values()):
        protocol.full_clean()
        for row in itertools.chain(
            protocol.contraindications.all(),
            protocol.combinations.all(),
            protocol.care_notes.all(),
            protocol.reminder_leads.all(),
        ):
            row.full_clean(exclude=["protocol"])


@pytest.mark.django_db
def test_loading_twice_creates_nothing_new():
    before = snapshot_counts()

    first = load_default_protocols()
    call_command("load_protocols", verbosity=0)

    assert not first.created_anything
    assert snapshot_counts() == before
    assert before["Protocol"] == 5 and before["ScreeningQuestion"] == len(SCREENING_QUESTIONS)


@pytest.mark.django_db
def test_an_admins_edit_survives_a_reload_and_a_deleted_protocol_comes_back():
    p1 = models.Protocol.objects.get(code=CODES["P1"])
    p1.interval_target = 5
    p1.description = "Our own wording."
    p1.save()
    p1.care_notes.filter(offset_days=-3).delete()
    models.Protocol.objects.filter(code=CODES["P4"]).delete()

    result = load_default_protocols()

    assert result.protocols_created == [CODES["P4"]]
    p1.refresh_from_db()
    assert (p1.interval_target, p1.description) == (5, "Our own wording.")
    assert not p1.care_notes.filter(offset_days=-3).exists()
    assert models.Protocol.objects.get(code=CODES["P4"]).combinations.count() == 2


@pytest.mark.django_db
def test_a_protocol_whose_name_an_admin_took_is_skipped_not_renamed():
    models.Protocol.objects.filter(code=CODES["P1"]).update(code="our-p1")

    result = load_default_protocols()

    assert result.protocols_skipped == [CODES["P1"]]
    assert models.Protocol.objects.filter(code="our-p1").exists()


def _matches(spec, *, fitzpatrick: int, age: int, severity: str, oiliness: str) -> bool:
    return (
        spec.fitzpatrick_min <= fitzpatrick <= spec.fitzpatrick_max
        and age >= spec.age_min
        and (spec.age_max is None or age <= spec.age_max)
        and severity in spec.severities
        and oiliness in spec.oiliness_types
    )


def test_the_default_protocols_cover_every_adult_profile_exactly_once():
    """Whatever specificity rule the plan engine uses, every adult matches one default protocol."""
    for fitzpatrick, age, severity, oiliness in itertools.product(
        range(1, 7), (18, 30, 49, 50, 62, 90), ("mild", "moderate", "severe"), ("dry", "normal", "combination", "oily")
    ):
        matching = [
            spec.code
            for spec in DEFAULT_PROTOCOLS
            if _matches(spec, fitzpatrick=fitzpatrick, age=age, severity=severity, oiliness=oiliness)
        ]
        assert len(matching) == 1, (fitzpatrick, age, severity, oiliness, matching)


@pytest.mark.django_db
def test_load_demo_twice_creates_nothing_new_and_restores_deleted_protocols(django_user_model):
    call_command("load_demo", verbosity=0)
    counted = (
        django_user_model,
        models.Practitioner,
        models.WorkingHours,
        models.Room,
        models.TimeOff,
        models.Client,
        models.Screening,
        models.ScreeningAnswer,
        models.Protocol,
    )
    before = {model.__name__: model.objects.count() for model in counted}
    # The demo's past plans protect their protocol: an admin would have to remove those first.
    models.TreatmentPlan.objects.filter(protocol__code=CODES["P2"]).delete()
    models.Protocol.objects.filter(code=CODES["P2"]).delete()

    call_command("load_demo", verbosity=0)

    assert {model.__name__: model.objects.count() for model in counted} == before
    assert before["Practitioner"] == 2 and before["Room"] == 2 and before["Client"] >= 6


@pytest.mark.django_db
def test_demo_data_has_both_logins_hours_a_closure_and_a_client_for_every_protocol(client):
    call_command("load_demo", verbosity=0)

    assert client.login(username="admin", password="clinic-admin-demo")
    assert client.get("/admin/").status_code == 200
    assert client.login(username="aesthetician", password="clinic-demo-pass")
    aesthetician = models.Practitioner.objects.get(user__username="aesthetician")
    assert sorted(aesthetician.working_hours.values_list("weekday", flat=True)) == [0, 1, 2, 3, 4]
    assert models.WorkingHours.objects.filter(weekday=5).exists()  # one practitioner also works Saturdays
    assert models.TimeOff.objects.filter(practitioner=None, room=None).exists()  # a clinic closure day

    today = timezone.localdate()
    covered = set()
    for demo in DEMO_CLIENTS:
        row = models.Client.objects.get(email=demo.email)
        assert row.screenings.get().answers.count() == len(SCREENING_QUESTIONS)
        profile = {
            "fitzpatrick": row.fitzpatrick,
            "age": row.age_on(today),
            "severity": row.pore_concern,
            "oiliness": row.oiliness,
        }
        covered |= {spec.code for spec in DEFAULT_PROTOCOLS if _matches(spec, **profile)}
    assert covered == set(CODES.values())
    assert models.Client.objects.get(email="margaret.lewis@example.com").age_on(today) == 62
    pregnant = models.ScreeningAnswer.objects.get(question__code="pregnant_or_nursing", answer=True)
    assert pregnant.screening.client.first_name == "Chloe"
    isotretinoin = models.ScreeningAnswer.objects.get(question__code="isotretinoin_past", answer=True)
    assert (today - isotretinoin.last_date).days == 60


@pytest.mark.django_db
def test_every_shipped_visit_after_a_session_has_a_working_day_in_its_window():
    """A visit with a one-day window falls on a weekend for some start dates and can then never be
    booked; three days or more always hold a weekday."""
    visits = models.CombinationTreatment.objects.filter(
        protocol__code__in=CODES.values(), placement="after", books_appointment=True
    )
    assert visits.exists()
    for visit in visits:
        width = max(visit.offset_days, visit.end_offset_days) - visit.offset_days + 1
        assert width >= 3, f"{visit.protocol.code}: {visit.name} can be booked on {width} day(s) only"


def test_the_demo_books_plans_through_the_services_and_gives_today_something_to_do(db):
    call_command("load_demo", stdout=io.StringIO())
    booked = models.TreatmentPlan.objects.filter(sessions__status=models.SessionStatus.BOOKED).distinct()
    # Three whole series, and Aisha's first visit at the next free hour (today when the day allows).
    assert sorted(p.client.first_name for p in booked) == ["Aisha", "Emma", "Kwame", "Sophie"]
    aisha = models.PlanSession.objects.get(plan__client__first_name="Aisha", status=models.SessionStatus.BOOKED)
    assert aisha.sequence == 1 and aisha.starts_at > timezone.now()
    # Margaret's plan is accepted with nothing booked: the worklist's "plans to book".
    margaret = models.TreatmentPlan.objects.get(client__first_name="Margaret")
    assert not margaret.sessions.filter(status=models.SessionStatus.BOOKED).exists()
    # Written by the booking services, so each confirmation waits in the outbox for the first sweep.
    assert models.Message.objects.filter(kind="confirmation").count() == 4
    # Two callers were emailed the new-client forms; one answered with a yes the clinic calls about.
    invitations = {i.first_name: i for i in models.IntakeInvitation.objects.all()}
    assert invitations["Lena"].status() == models.IntakeStatus.SENT
    assert invitations["Omar"].status() == models.IntakeStatus.NEEDS_CALL
    call_command("load_demo", stdout=io.StringIO())
    assert models.IntakeInvitation.objects.count() == 2 and models.Message.objects.filter(kind="intake").count() == 2
    # Besides the year of past clients the outcomes report shows (plans/management/demo_outcomes.py).
    assert models.TreatmentPlan.objects.exclude(client__email__startswith="outcomes.demo.").count() == 5


def _without_ids(p):
    return replace(
        p,
        id=None,
        combinations=tuple(replace(c, id=0) for c in p.combinations),
        care_notes=tuple(replace(n, id=0) for n in sorted(p.care_notes, key=lambda n: (n.phase, n.offset_days))),
    )


@pytest.mark.django_db
def test_the_shipped_protocols_read_from_the_database_are_the_engine_data_the_property_tests_use():
    """One mapping (planning.protocol_params_from): the rows the migration loads and the
    database-free defaults the engine's property tests run on are the same protocols."""
    from plans.defaults import default_protocol_params
    from plans.services.plans import protocol_params_active

    from_db = {p.code: _without_ids(p) for p in protocol_params_active()}
    shipped = {p.code: _without_ids(p) for p in default_protocol_params()}
    assert set(shipped) <= set(from_db)
    for code, params in shipped.items():
        assert from_db[code] == params, code
