"""The five proposed default protocols (microneedling-protocols.md, "Proposed defaults") as plain engine data.

The shipped defaults are DB rows an admin edits; these mirror them so the engine is tested
without a database. Question codes are the screening catalogue's stable codes.
"""

from decimal import Decimal

from plans.planning import (
    CareNoteParams,
    CombinationParams,
    ContraindicationParams,
    ProtocolParams,
    ReminderLeadParams,
)

D = Decimal

HARD_STOPS = {
    "skin_cancer": "Active skin cancer in the area (SkinPen IFU)",
    "open_wounds": "Open wounds or irritated skin (SkinPen IFU)",
    "steel_allergy": "Allergy to steel or anaesthetic (SkinPen IFU)",
    "bleeding_disorder": "Bleeding disorder (SkinPen IFU)",
    "pregnant_nursing": "Pregnancy or nursing (SkinPen IFU)",
    "active_infection": "Active infection including herpes (clinic exclusions)",
    "inflammatory_acne": "Active inflammatory acne or rosacea (clinic exclusions)",
    "eczema_psoriasis": "Eczema or psoriasis in the area (clinic exclusions)",
}
REVIEWS = {
    "keloid": "Keloid tendency is a relative contraindication",
    "anticoagulants": "Anticoagulants need the doctor's approval",
    "diabetes": "Diabetes: check it is controlled",
    "immunosuppression": "Immunosuppression, chemotherapy or radiotherapy",
    "autoimmune": "Autoimmune or collagen vascular disease",
}


def common_rules() -> tuple[ContraindicationParams, ...]:
    rules = [
        ContraindicationParams(code, "hard_stop", code.replace("_", " "), explanation=why)
        for code, why in HARD_STOPS.items()
    ]
    rules += [
        ContraindicationParams(code, "review", code.replace("_", " "), explanation=why) for code, why in REVIEWS.items()
    ]
    rules += [
        ContraindicationParams(
            "isotretinoin",
            "defer",
            "isotretinoin",
            6,
            "months",
            "Clinics wait 3-12 months after isotretinoin (default 6)",
        ),
        ContraindicationParams("tan", "defer", "sunburn or tan", 14, "days", "Sunburn or tan within 2 weeks"),
        ContraindicationParams(
            "toxin_filler", "defer", "toxin or filler", 14, "days", "Botulinum toxin and filler: 2 weeks either side"
        ),
    ]
    return tuple(rules)


CARE_NOTES = (
    CareNoteParams(1, "pre", -14, "Avoid tanning"),
    CareNoteParams(2, "pre", -7, "Stop retinoids, AHA/BHA and benzoyl peroxide; no waxing"),
    CareNoteParams(3, "pre", -3, "No NSAIDs unless prescribed"),
    CareNoteParams(4, "pre", -1, "Antiviral if you have a herpes history"),
    CareNoteParams(5, "post", 0, "Rinse, hyaluronic acid only, no makeup or exercise"),
    CareNoteParams(6, "post", 1, "Mineral SPF 30+; no pool, sauna or sweat"),
    CareNoteParams(7, "post", 5, "Restart actives"),
    CareNoteParams(8, "post", 7, "Exfoliants allowed"),
)
REMINDERS = (ReminderLeadParams(168, True), ReminderLeadParams(48), ReminderLeadParams(24))


def _protocol(**kwargs) -> ProtocolParams:
    base = dict(contraindications=common_rules(), care_notes=CARE_NOTES, reminder_leads=REMINDERS)
    base.update(kwargs)
    return ProtocolParams(**base)


P1 = _protocol(
    id=1,
    code="p1-mild-light",
    name="P1 Mild, types I-III",
    priority=10,
    fitzpatrick_min=1,
    fitzpatrick_max=3,
    age_min=18,
    age_max=49,
    severities=("mild",),
    oiliness_types=("dry", "normal", "combination"),
    session_count=3,
    interval_min_days=21,
    interval_target_days=28,
    interval_max_days=42,
    depth_schedule=(D("0.5"), D("0.75"), D("1.0")),
    depth_cap_mm=D("1.5"),
    follow_up_days=84,
)
P2 = _protocol(
    id=2,
    code="p2-moderate-light",
    name="P2 Moderate-severe, types I-III",
    priority=20,
    fitzpatrick_min=1,
    fitzpatrick_max=3,
    age_min=18,
    age_max=49,
    severities=("moderate", "severe"),
    oiliness_types=("dry", "normal", "combination"),
    session_count=5,
    interval_min_days=28,
    interval_target_days=28,
    interval_max_days=56,
    depth_schedule=(D("0.75"), D("1.0"), D("1.25"), D("1.5"), D("1.5")),
    depth_cap_mm=D("1.5"),
    combinations=(
        CombinationParams(
            21,
            "Superficial glycolic peel",
            "peel",
            "between",
            min_days_after_mn=14,
            min_days_before_mn=14,
            optional=True,
            instructions="After Rana 2017",
        ),
        CombinationParams(
            22,
            "Interim check",
            "assessment",
            "after",
            after_sessions=(5,),
            offset_days=28,
            end_offset_days=35,
            optional=False,
            duration_minutes=20,
        ),
    ),
)
P3 = _protocol(
    id=3,
    code="p3-conservative-dark",
    name="P3 Conservative, types IV-VI",
    priority=30,
    fitzpatrick_min=4,
    fitzpatrick_max=6,
    age_min=18,
    session_count=5,
    interval_min_days=28,
    interval_target_days=35,
    interval_max_days=56,
    depth_schedule=(D("0.5"), D("0.75"), D("1.0"), D("1.0"), D("1.0")),
    depth_cap_mm=D("1.0"),
    combinations=(
        CombinationParams(
            31, "Brightener priming", "priming", "before_first", offset_days=14, optional=False, books_appointment=False
        ),
        CombinationParams(
            32,
            "Retinoid pause",
            "topical_pause",
            "around",
            offset_days=14,
            end_offset_days=5,
            optional=False,
            books_appointment=False,
        ),
        CombinationParams(
            33,
            "PIH check",
            "assessment",
            "after",
            after_sessions=(1,),
            offset_days=14,
            end_offset_days=28,
            min_days_before_mn=7,
            optional=False,
            duration_minutes=15,
        ),
        CombinationParams(
            34, "Salicylic acid peel", "peel", "between", min_days_after_mn=14, min_days_before_mn=14, optional=True
        ),
    ),
)
P4 = _protocol(
    id=4,
    code="p4-oily-salicylic",
    name="P4 Oily or acne-prone",
    priority=40,
    oiliness_types=("oily",),
    session_count=4,
    interval_min_days=28,
    interval_target_days=28,
    interval_max_days=42,
    depth_schedule=(D("0.5"), D("0.75"), D("1.0"), D("1.0")),
    depth_cap_mm=D("1.0"),
    combinations=(
        CombinationParams(
            41,
            "Salicylic acid peel 20-30%",
            "peel",
            "between",
            min_days_after_mn=14,
            min_days_before_mn=14,
            optional=False,
        ),
    ),
)
P5 = _protocol(
    id=5,
    code="p5-mature-dry",
    name="P5 Mature or dry",
    priority=50,
    age_min=50,
    session_count=4,
    interval_min_days=28,
    interval_target_days=35,
    interval_max_days=56,
    depth_schedule=(D("0.5"), D("0.75"), D("1.0"), D("1.0")),
    depth_cap_mm=D("1.0"),
    maintenance_note="Maintenance every 6 months.",
)
DEFAULTS = (P1, P2, P3, P4, P5)
