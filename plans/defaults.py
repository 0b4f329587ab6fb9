"""The protocols and screening questions the app ships, as data, and their idempotent loader.

Everything here follows the clinic's microneedling review ("Proposed defaults"); its
sources are summarised in docs/clinical-sources.md. It is loaded by the data migration `0002_default_protocols` and by
`manage.py load_protocols` / `load_demo`. An admin owns the rows once they exist: the
loader matches by `code`, creates what is missing and never changes an existing row, so
re-running it after an admin edit (or a deletion) never overwrites the admin's work.

Choices the domain document leaves open are made here and explained in each protocol's
description; [C] marks a clinic/vendor source, [R] a peer-reviewed or regulatory one.

Applicability: the model matches a protocol when *all* of its criteria hold (Fitzpatrick
range AND age range AND severity AND oiliness). The five defaults partition every adult
client so exactly one matches, whatever specificity rule the plan engine uses:

    Fitzpatrick IV-VI, any age/skin/severity           -> P3 conservative
    Fitzpatrick I-III, oily / acne-prone, any age       -> P4 oily with salicylic peel
    Fitzpatrick I-III, dry/normal/combination, 50+      -> P5 mature
    Fitzpatrick I-III, dry/normal/combination, 18-49    -> P1 (mild) or P2 (moderate/severe)

The document's P5 reads "mature (50+) OR dry/sensitive". An OR cannot be one row with
AND semantics, so P5 ships as "50 and over"; a dry-skinned client under 50 gets P1/P2
(whose depths start at 0.5-0.75 mm). A clinic that wants dry skin of any age on P5 copies
P5 in the admin with age 18+ and oiliness "dry" only (more specific, so it wins).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

ALL_SEVERITIES = ["mild", "moderate", "severe"]
NOT_OILY = ["dry", "normal", "combination"]
ALL_OILINESS = ["dry", "normal", "combination", "oily"]

# --- Screening question catalogue --------------------------------------------------------
# (code, question read out at intake, help text, asks_date)
SCREENING_QUESTIONS: list[tuple[str, str, str, bool]] = [
    (
        "skin_cancer_in_area",
        "Do you have, or are you being treated for, skin cancer in the area to be treated?",
        "SkinPen labelled contraindication.",
        False,
    ),
    (
        "open_wounds",
        "Are there open wounds, cuts, or irritated or broken skin in the area?",
        "SkinPen labelled contraindication.",
        False,
    ),
    (
        "steel_anaesthetic_allergy",
        "Are you allergic to stainless steel or to local anaesthetic creams?",
        "SkinPen labelled contraindication.",
        False,
    ),
    (
        "bleeding_disorder",
        "Do you have a bleeding or clotting disorder (e.g. haemophilia)?",
        "SkinPen labelled contraindication.",
        False,
    ),
    (
        "pregnant_or_nursing",
        "Are you pregnant, trying to conceive, or breastfeeding?",
        "SkinPen labelled contraindication.",
        False,
    ),
    (
        "isotretinoin_current",
        "Are you taking isotretinoin (Roaccutane) now?",
        "SkinPen labelled contraindication.",
        False,
    ),
    (
        "isotretinoin_past",
        "Have you taken isotretinoin (Roaccutane) in the last 12 months?",
        "If yes, the date of the last dose.",
        True,
    ),
    (
        "active_infection",
        "Is there an active skin infection, cold sore (herpes) or warts in the area?",
        "",
        False,
    ),
    (
        "inflammatory_acne_rosacea",
        "Do you have active inflammatory acne (red, pus-filled spots) or a rosacea flare in the area?",
        "",
        False,
    ),
    ("eczema_psoriasis", "Do you have eczema or psoriasis in the area?", "", False),
    ("keloid_history", "Have you ever formed keloid or raised (hypertrophic) scars?", "", False),
    ("anticoagulants", "Do you take blood thinners (e.g. warfarin, apixaban, daily aspirin)?", "", False),
    ("diabetes", "Do you have diabetes?", "Ask whether it is well controlled.", False),
    (
        "immunosuppression",
        "Is your immune system suppressed (medication, chemotherapy or radiotherapy)?",
        "",
        False,
    ),
    (
        "autoimmune_disease",
        "Do you have an autoimmune or connective-tissue disease (e.g. lupus, scleroderma)?",
        "",
        False,
    ),
    (
        "toxin_or_filler",
        "Have you had anti-wrinkle injections (botulinum toxin) or dermal filler recently?",
        "If yes, the date of the last treatment.",
        True,
    ),
    (
        "toxin_or_filler_planned",
        "Are you planning anti-wrinkle injections (botulinum toxin) or dermal filler in the next 14 days?",
        "Toxin and filler are kept 2 weeks from microneedling on both sides.",
        False,
    ),
    (
        "tan_or_sunburn",
        "Have you had a tan, sunbed or sunburn on the face recently?",
        "If yes, the date of the last sun exposure or sunburn.",
        True,
    ),
    (
        "recent_peel_or_laser",
        "Have you had a chemical peel, laser or IPL on the face recently?",
        "If yes, the date of the last treatment.",
        True,
    ),
    ("herpes_history", "Have you ever had cold sores (herpes simplex)?", "Antiviral cover may be needed.", False),
    (
        "photosensitising_drugs",
        "Do you take medicines that make the skin sensitive to light (e.g. doxycycline, St John's wort)?",
        "",
        False,
    ),
]

# --- Contraindication rules (the same for every protocol unless a protocol overrides) ------
# (question code, action, window amount, window unit, explanation)
Rule = tuple[str, str, int | None, str, str]

_LABEL = "SkinPen instructions for use [R]"
COMMON_RULES: list[Rule] = [
    ("skin_cancer_in_area", "hard_stop", None, "", f"Active skin cancer in the area: {_LABEL}."),
    ("open_wounds", "hard_stop", None, "", f"Open wounds or irritated skin: {_LABEL}."),
    ("steel_anaesthetic_allergy", "hard_stop", None, "", f"Allergy to steel or anaesthetic: {_LABEL}."),
    ("bleeding_disorder", "hard_stop", None, "", f"Bleeding disorder: {_LABEL}."),
    ("pregnant_or_nursing", "hard_stop", None, "", f"Pregnancy or nursing: {_LABEL}."),
    ("isotretinoin_current", "hard_stop", None, "", f"Current isotretinoin: {_LABEL}."),
    (
        "isotretinoin_past",
        "defer_review",
        6,
        "months",
        "Start 6 months after the last dose: most clinics wait 6 (some 3 or 12) [C]; a consensus found "
        "insufficient evidence to delay superficial procedures (Spring LK, JAMA Dermatol 2017) [R]. "
        "A clinician reviews it too. Editable 0-12 months.",
    ),
    ("active_infection", "hard_stop", None, "", "Active infection incl. herpes and warts: clinic exclusion [C]."),
    (
        "inflammatory_acne_rosacea",
        "hard_stop",
        None,
        "",
        "Active inflammatory acne or papulopustular rosacea excludes mechanical microneedling [C]; "
        "treat once it has settled.",
    ),
    ("eczema_psoriasis", "hard_stop", None, "", "Eczema or psoriasis in the area: clinic exclusion [C]."),
    (
        "keloid_history",
        "review",
        None,
        "",
        "Keloid tendency is a relative contraindication [R]: a clinician decides, or tests a small area first.",
    ),
    ("anticoagulants", "review", None, "", "Anticoagulants: needs the prescribing doctor's approval [C]."),
    ("diabetes", "review", None, "", "Uncontrolled diabetes slows healing: clinic exclusion [C]; check control."),
    (
        "immunosuppression",
        "review",
        None,
        "",
        "Immunosuppression, chemotherapy or radiotherapy: clinic exclusion [C]; needs a clinician.",
    ),
    (
        "autoimmune_disease",
        "review",
        None,
        "",
        "Collagen vascular / autoimmune disease: clinic exclusion [C]; needs a clinician.",
    ),
    (
        "toxin_or_filler",
        "defer_review",
        14,
        "days",
        "Keep 2 weeks between microneedling and toxin or filler [C] (browsofjoy; sisubeauty); stricter "
        "clinics wait 3-12 months. A clinician reviews it.",
    ),
    (
        "toxin_or_filler_planned",
        "review",
        None,
        "",
        "Toxin or filler planned within 14 days: keep 2 weeks after each session [C]; a clinician agrees dates.",
    ),
    (
        "tan_or_sunburn",
        "defer_review",
        14,
        "days",
        "No microneedling within 2 weeks of a tan or sunburn [C]: pigment risk. A clinician reviews it.",
    ),
    (
        "recent_peel_or_laser",
        "review",
        6,
        "weeks",
        "Gap after a separate peel: superficial 1-4 weeks, medium/TCA 4-6 weeks; laser or IPL 2 weeks [C]. "
        "A clinician confirms the gap for the treatment actually done.",
    ),
    (
        "herpes_history",
        "review",
        None,
        "",
        "Cold-sore history: arrange antiviral prophylaxis with a prescriber, 2 days before plus the day "
        "of treatment [C] or about 1 week (J Drugs Dermatol) [R].",
    ),
    (
        "photosensitising_drugs",
        "review",
        None,
        "",
        "Photosensitising drugs: clinic exclusion [C]; a clinician checks the drug and the season.",
    ),
]

# --- Care notes ---------------------------------------------------------------------------
# (phase, offset days, subject, body)
Note = tuple[str, int, str, str]

PRE_TAN: Note = (
    "pre",
    -14,
    "Two weeks to go: protect your skin from the sun",
    "Your microneedling session is in two weeks. From today until then, please avoid sunbathing, "
    "sunbeds and self-tan, and wear SPF 30 or higher every day, even when it is cloudy. A tan or "
    "sunburn in the two weeks before treatment raises the risk of dark patches, so we would have to "
    "postpone. Please also avoid laser, IPL or a chemical peel on your face in these two weeks unless we "
    "planned it with you.",
)
PRE_STOP_ACTIVES: Note = (
    "pre",
    -7,
    "One week to go: pause retinoids, acids and benzoyl peroxide",
    "From today until your session, stop using on your face: retinoids (retinol, tretinoin, adapalene), "
    "exfoliating acids (AHA such as glycolic or lactic acid, BHA such as salicylic acid), benzoyl "
    "peroxide and hydroquinone. Do not wax, thread or use hair-removal cream on your face this week. "
    "Keep to a gentle cleanser, a plain moisturiser and SPF 30+. If a doctor prescribed any of these, "
    "check with them before stopping.",
)
PRE_NSAIDS: Note = (
    "pre",
    -3,
    "Three days to go: avoid anti-inflammatory painkillers",
    "For the three days before your session, please avoid anti-inflammatory painkillers such as "
    "ibuprofen or naproxen: they can increase bruising. If a doctor prescribed them (or aspirin), keep "
    "taking them and tell us at your appointment. Paracetamol is fine if you need a painkiller.",
)
PRE_ANTIVIRAL: Note = (
    "pre",
    -1,
    "Tomorrow: antiviral if you get cold sores; come with clean skin",
    "If you have ever had cold sores, microneedling can trigger one. Take the antiviral your prescriber "
    "gave you from today, on the day of treatment and the day after (or as they told you). If you have "
    "no prescription yet, call us today. If you have a cold sore, a spot that is infected or any "
    "broken skin on your face now, call us to move the appointment: we cannot treat over it. Tomorrow, "
    "please come without makeup.",
)

POST_FIRST_DAY: Note = (
    "post",
    0,
    "Today and tonight: your first 24 hours",
    "Your skin will be red and may feel tight, warm or a little sore, like mild sunburn: this is normal "
    "and usually settles within 24 to 48 hours. Pinpoint bleeding and mild bruising can happen. After a "
    "few hours, rinse your face with tepid water only and pat it dry with a clean towel. Apply only the "
    "hyaluronic acid gel we gave you. No makeup and no sunscreen today. No exercise, sauna, steam room "
    "or jacuzzi for 24 hours. Sleep on a clean pillowcase and keep your hands off your face.",
)
POST_WARNING_SIGNS: Note = (
    "post",
    0,
    "When to call us",
    "Expected: redness and tightness for 1 to 2 days, and dryness or flaking for up to a week. "
    "Call the clinic if you notice any of these: pain or swelling that gets worse after the second day; "
    "pus, crusting or yellow discharge; a fever; a cold sore; an itchy rash or small bumps that do not "
    "go away; or patches that turn darker than your usual skin. If the area is hot, swollen and very "
    "painful, or you feel unwell, get medical advice the same day.",
)
POST_DAYS_1_3: Note = (
    "post",
    1,
    "Days 1 to 3: sunscreen, and no pools or sweating",
    "From 24 hours after treatment, apply a mineral sunscreen (zinc oxide or titanium dioxide) SPF 30+ "
    "every morning and again when you are outdoors, and keep out of strong sun. Use a gentle cleanser "
    "and a plain moisturiser. Until 72 hours after treatment: no swimming pool, sauna, hot yoga or "
    "exercise that makes you sweat heavily. Your usual gentle skincare can return from day 3.",
)
POST_NO_INJECTIONS: Note = (
    "post",
    0,
    "The next two weeks: no anti-wrinkle injections or filler",
    "Please do not have anti-wrinkle injections (botulinum toxin) or dermal filler for two weeks after "
    "microneedling: the skin needs that time to settle. If one is booked, tell us and we will agree the dates.",
)
POST_RESTART_ACTIVES: Note = (
    "post",
    5,
    "Day 5: you can restart your actives",
    "From today (day 5 to 7 after treatment), once your skin has calmed, you can restart the retinoid, "
    "vitamin C or other active products you paused. If your skin feels sensitive, start every other "
    "night. Keep using SPF 30+ every day.",
)
POST_EXFOLIANTS: Note = (
    "post",
    7,
    "One week on: exfoliants again",
    "From one week after treatment you can go back to exfoliating products (acids, scrubs) if your skin "
    "is calm. Keep using SPF 30+ every day until your next session.",
)


COMMON_PRE = [PRE_TAN, PRE_STOP_ACTIVES, PRE_NSAIDS, PRE_ANTIVIRAL]
COMMON_POST = [
    POST_FIRST_DAY,
    POST_WARNING_SIGNS,
    POST_NO_INJECTIONS,
    POST_DAYS_1_3,
    POST_RESTART_ACTIVES,
    POST_EXFOLIANTS,
]

# Reminder lead times: D-7 with the pre-care notes, then 48 h and 24 h (domain doc, section 8).
REMINDER_LEADS: list[tuple[int, bool]] = [(168, True), (48, False), (24, False)]

# Per-zone caps (zone, mm), held as data on each protocol: vendor charts and practice [C].
ZONES: list[tuple[str, str]] = [("nose", "0.5"), ("forehead", "0.5"), ("cheeks", "1.5")]
# The review visit: pore gains faded by about 6 months without maintenance (Er:YAG, Lasers Surg Med 2020).
REVIEW_AFTER_DAYS = 182

DEPTH_NOTES = (
    "Schedule depths are for the cheeks. Nose and forehead at most 0.5 mm. Never inside the orbital rim "
    "(SkinPen IFU [R]). Match needle length to skin thickness and use light pressure over bone. "
    "Endpoint: even pinpoint bleeding. Extrapolated: per-zone depths and increasing depth each session "
    "come from vendors and practice [C], not trials."
)
MAINTENANCE = (
    "Photos and a pore score at every visit; final assessment 12 weeks after the last session; review at "
    "6 months; maintenance session every 6-12 months [C] (pore gains faded by 6 months without it)."
)


# --- Combination treatments ---------------------------------------------------------------


@dataclass(frozen=True)
class Combo:
    name: str
    kind: str
    placement: str
    instructions: str
    after_sessions: list[int] = field(default_factory=list)
    offset_days: int = 0
    end_offset_days: int = 0
    min_days_after_mn: int = 0
    min_days_before_mn: int = 0
    optional: bool = True
    books_appointment: bool = True
    duration_minutes: int = 30


_RETINOID_SOURCE = (
    "Default from the domain review: stop 5-7 days before, restart day 5-7 [C]; evidence 'lacks definitive "
    "recommendations' (Buchanan & Gilman, J Cutan Aesthet Surg 2016) [R]."
)


def _retinoid_pause(stop_before: int, restart_after: int, *, also: str = "", source: str = _RETINOID_SOURCE) -> Combo:
    what = "retinoids" + (f" and {also}" if also else "")
    return Combo(
        name=f"Pause {what} around each session",
        kind="topical_pause",
        placement="around",
        offset_days=stop_before,
        end_offset_days=restart_after,
        optional=False,
        books_appointment=False,
        duration_minutes=0,
        instructions=f"Stop {what} {stop_before} days before each microneedling session and restart "
        f"{restart_after} days after it. {source}",
    )


@dataclass(frozen=True)
class ProtocolDefaults:
    code: str
    name: str
    description: str
    priority: int
    fitzpatrick_min: int
    fitzpatrick_max: int
    age_min: int
    age_max: int | None
    severities: list[str]
    oiliness_types: list[str]
    session_count: int
    interval_min: int
    interval_target: int
    interval_max: int
    depth_schedule: list[float]
    depth_cap_mm: Decimal
    combinations: list[Combo]
    care_notes: list[Note]
    rules: list[Rule] = field(default_factory=lambda: list(COMMON_RULES))
    interval_unit: str = "weeks"
    session_minutes: int = 60
    buffer_minutes: int = 15
    device: str = "pen"
    depth_notes: str = DEPTH_NOTES
    follow_up_days: int = 84
    maintenance_note: str = MAINTENANCE
    review_after_days: int = REVIEW_AFTER_DAYS
    zones: list[tuple[str, str]] = field(default_factory=lambda: list(ZONES))
    reminder_leads: list[tuple[int, bool]] = field(default_factory=lambda: list(REMINDER_LEADS))

    def protocol_fields(self) -> dict[str, Any]:
        inline = {"combinations", "care_notes", "rules", "reminder_leads"}
        names = [f.name for f in fields(self) if f.name not in inline]
        values = {name: getattr(self, name) for name in names}
        # Lists are copied so a caller mutating a created row never edits these module constants.
        for name in ("severities", "oiliness_types", "depth_schedule"):
            values[name] = list(values[name])
        values["depth_zones"] = [{"zone": zone, "cap_mm": cap} for zone, cap in values.pop("zones")]
        return values


_COMMON_SOURCES = (
    "Shared defaults: contraindications from the SkinPen instructions for use [R] and clinic lists [C]; "
    "final assessment 12 weeks after the last session as in Kwon HH, Dermatol Surg 2018;44:405 (fractional "
    "CO2: pore count down 54.5% at 12 weeks) [R]; reminders 7 days (with pre-care), 48 h and 24 h [C]. "
    "No trial of microneedling alone on pores was found: the pore evidence is from neighbouring devices "
    "(Cho SI, Dermatol Surg 2012; Kwon 2018). Extrapolated (not evidence-based): per-zone depths, "
    "increasing depth each session, session length 60 min + 15 min cleanup (a clinic estimate)."
)

P1 = ProtocolDefaults(
    code="p1-mild-i-iii",
    name="P1 Mild pores, Fitzpatrick I-III",
    priority=50,
    fitzpatrick_min=1,
    fitzpatrick_max=3,
    age_min=18,
    age_max=49,
    severities=["mild"],
    oiliness_types=NOT_OILY,
    session_count=3,
    interval_min=3,
    interval_target=4,
    interval_max=6,
    depth_schedule=[0.5, 0.75, 1.0],
    depth_cap_mm=Decimal("1.5"),
    combinations=[_retinoid_pause(7, 5)],
    care_notes=COMMON_PRE + COMMON_POST,
    description=(
        "Mild enlarged pores in Fitzpatrick types I-III, adults 18-49 with dry, normal or combination skin "
        "(oily skin: P4; 50 and over: P5). Pen, hyaluronic acid glide only.\n\n"
        "3 sessions (the document's range is 3-4; 3 chosen because acne-scar series used a median of 3 "
        "(Harris AG, Int J Women's Dermatol 2015) and at least 50% improved after a mean of 2.5 sessions "
        "(Alster & Li, Plast Reconstr Surg 2020;145:358) [R]). Interval min 3 / target 4 / max 6 weeks: 4 "
        "weeks is the interval of most trials; sources range from 2 weeks (El-Domyati, Int J Dermatol 2015; "
        "Alam M, JAMA Dermatol 2014) to 6 weeks (Sharad, J Cosmet Dermatol 2011). Cheek depth 0.5 -> 0.75 -> "
        "1.0 mm: 0.5-1.0 mm for texture (Clark, iS Skin Source 2021 [C-trade]); cap 1.5 mm because safety "
        "above 1.5 mm was not evaluated (SkinPen IFU [R]).\n\n" + _COMMON_SOURCES
    ),
)

P2 = ProtocolDefaults(
    code="p2-moderate-severe-i-iii",
    name="P2 Moderate-severe pores, Fitzpatrick I-III",
    priority=40,
    fitzpatrick_min=1,
    fitzpatrick_max=3,
    age_min=18,
    age_max=49,
    severities=["moderate", "severe"],
    oiliness_types=NOT_OILY,
    session_count=5,
    interval_min=4,
    interval_target=4,
    interval_max=8,
    depth_schedule=[0.75, 1.0, 1.25, 1.5, 1.5],
    depth_cap_mm=Decimal("1.5"),
    combinations=[
        Combo(
            name="Superficial glycolic acid peel",
            kind="peel",
            placement="between",
            min_days_after_mn=14,
            min_days_before_mn=14,
            optional=True,
            duration_minutes=30,
            instructions="Optional superficial glycolic acid peel midway between microneedling sessions, at "
            "least 14 days after the previous and 14 days before the next session. After Rana S, J Cosmet "
            "Dermatol 2017;16:454 (MN at weeks 0/6/12 plus 70% glycolic peel 21 days after each MN improved "
            "texture more than MN alone) [R]; glycolic acid is safe in types I-IV (Sharad, CCID 2013) [R].",
        ),
        Combo(
            name="Interim check 4 weeks after the last session",
            kind="assessment",
            placement="after",
            after_sessions=[5],
            offset_days=28,
            # A week to book it in: a one-day window falling on a weekend could never be booked.
            end_offset_days=35,
            optional=False,
            duration_minutes=15,
            instructions="Photos and pore score 4 weeks after the last session (bookable in the following "
            "week), as in Dogra (J Cosmet Dermatol 2014) [R]; decides whether more sessions are worth it before "
            "the 12-week assessment. If you change the session count, update 'after sessions' to the new last "
            "session.",
        ),
        _retinoid_pause(7, 5),
    ],
    care_notes=COMMON_PRE + COMMON_POST,
    description=(
        "Moderate to severe enlarged pores in Fitzpatrick types I-III, adults 18-49 with dry, normal or "
        "combination skin (oily skin: P4; 50 and over: P5).\n\n"
        "5 sessions (the document's range is 4-6; 5 is the middle: moderate scars responded better than "
        "severe (Tirmizi, Cureus 2021) and clinics quote 3-6 sessions [C]). Interval min 4 / target 4 / max "
        "8 weeks. Cheek depth 0.75 -> 1.0 -> 1.25 -> 1.5 mm, the fifth session stays at the 1.5 mm cap "
        "(SkinPen IFU: safety above 1.5 mm not evaluated [R]; scars 1.5-2.0 mm per Clark 2021 [C-trade]). "
        "Optional superficial glycolic peel midway between sessions, at least 14 days from microneedling on "
        "each side (after Rana S, J Cosmet Dermatol 2017;16:454 [R]). Interim check 4 weeks after the last "
        "session (Dogra, J Cosmet Dermatol 2014 [R]); results lag (Alam M, JAMA Dermatol 2014 [R]).\n\n"
        + _COMMON_SOURCES
    ),
)

P3_PRE_TAN_AND_RETINOIDS: Note = (
    "pre",
    -14,
    "Two weeks to go: sun protection, and stop retinoids",
    "Your microneedling session is in two weeks. From today, please stop retinoids (retinol, tretinoin, "
    "adapalene) on your face, avoid sunbathing, sunbeds and self-tan, and wear SPF 30 or higher every day. "
    "A tan or sunburn before treatment raises the risk of dark patches, so we would have to postpone. "
    "Keep using the brightening cream we prescribed until one week before the session.",
)
P3_POST_BRIGHTENER: Note = (
    "post",
    3,
    "Day 3: restart your brightening cream",
    "From 72 hours after treatment, once your skin is calm and not broken, restart the brightening cream "
    "we prescribed, every night. It lowers the risk of dark patches. Stop and call us if it stings or "
    "the skin darkens.",
)
P3_POST_RESTART_RETINOID: Note = (
    "post",
    7,
    "One week on: retinoid and exfoliants again",
    "From one week after treatment you can restart your retinoid and exfoliating products if your skin is "
    "calm; start every other night. Keep using SPF 30+ every day. If you see patches darker than your "
    "usual skin, call us: we will check before the next session.",
)

P3 = ProtocolDefaults(
    code="p3-conservative-iv-vi",
    name="P3 Conservative, Fitzpatrick IV-VI",
    priority=10,
    fitzpatrick_min=4,
    fitzpatrick_max=6,
    age_min=18,
    age_max=None,
    severities=list(ALL_SEVERITIES),
    oiliness_types=list(ALL_OILINESS),
    session_count=4,
    interval_min=4,
    interval_target=5,
    interval_max=8,
    depth_schedule=[0.5, 0.75, 1.0, 1.0],
    depth_cap_mm=Decimal("1.0"),
    combinations=[
        Combo(
            name="Priming with a brightener",
            kind="priming",
            placement="before_first",
            offset_days=28,
            # Ends where the brightener pause of session 1 begins (D-7): the two never overlap.
            end_offset_days=7,
            optional=False,
            books_appointment=False,
            duration_minutes=0,
            instructions="Needs a prescriber. Hydroquinone 4% nightly (azelaic or kojic acid if intolerant) "
            "from 4 weeks before the first session, stopping 7 days before it, then restarting 72 h after "
            "each session. Taken from the peel literature, not microneedling studies (mussenhealth.us peel "
            "chapters; biocyclopedia) [R-textbook].",
        ),
        Combo(
            name="PIH check after the first session",
            kind="assessment",
            placement="after",
            after_sessions=[1],
            offset_days=14,
            # The whole 2-4 week range is bookable: a one-day window falling on a weekend never was.
            end_offset_days=28,
            optional=False,
            duration_minutes=15,
            instructions="Look for post-inflammatory hyperpigmentation 2-4 weeks after session 1 (bookable on "
            "any day of that fortnight). If there is PIH, hold the depth or stop. Dogra (J Cosmet Dermatol "
            "2014): 5 monthly sessions in types IV-V caused PIH in 5 of 30 [R].",
        ),
        _retinoid_pause(
            14,
            7,
            source="14 days before in dark skin: stop retinoids 1-2 weeks before in types IV-VI (peel literature: "
            "mussenhealth.us peel chapters; biocyclopedia) [R-textbook], the longer end chosen for pigment risk.",
        ),
        Combo(
            name="Pause the brightener around each session",
            kind="topical_pause",
            placement="around",
            offset_days=7,
            end_offset_days=3,
            optional=False,
            books_appointment=False,
            duration_minutes=0,
            instructions="Stop hydroquinone (or azelaic/kojic acid) 7 days before each session [C] and restart "
            "at 72 h once calm (peel literature: restart about 2 days after [R-textbook]).",
        ),
    ],
    care_notes=[P3_PRE_TAN_AND_RETINOIDS, PRE_STOP_ACTIVES, PRE_NSAIDS, PRE_ANTIVIRAL]
    + [
        POST_FIRST_DAY,
        POST_WARNING_SIGNS,
        POST_NO_INJECTIONS,
        POST_DAYS_1_3,
        P3_POST_BRIGHTENER,
        P3_POST_RESTART_RETINOID,
    ],
    rules=[
        (code, action, amount, unit, explanation)
        if code != "keloid_history"
        else (
            code,
            action,
            amount,
            unit,
            "Keloid screen required for types IV-VI: keloid tendency is a relative contraindication [R] and "
            "darker skin is a risk factor for adverse events (Chu S, Dermatol Surg 2021;47:1249) [R].",
        )
        for code, action, amount, unit, explanation in COMMON_RULES
    ],
    description=(
        "Conservative protocol for Fitzpatrick types IV-VI, any adult age, any skin type or severity "
        "(pigment risk outweighs the other criteria, so it also covers oily and mature dark skin).\n\n"
        "4 sessions (the document's range is 4-6; 4 chosen to limit PIH exposure: 5 monthly sessions in types "
        "IV-V caused PIH in 5 of 30 and tram-track scarring in 2 (Dogra, J Cosmet Dermatol 2014) [R]). "
        "Interval min 4 / target 5 / max 8 weeks. Cheek depth starts at 0.5 mm and rises to 1.0 mm at most "
        "(cap 1.0 mm). Microneedling has lower pigment risk than peels or lasers in types IV-VI (Cohen & "
        "Elbuluk, JAAD 2016;74:348) [R] but darker skin is a risk factor for adverse events (Chu S, Dermatol "
        "Surg 2021;47:1249) [R]; microneedling beat 35% glycolic peels in IV-VI (Ishfaq, JCAD 2022) [R]. "
        "Priming with a brightener for 2-4 weeks (4 weeks chosen: use from D-28 to D-7), needs a prescriber; "
        "stop retinoids D-14 (1-2 weeks before in dark skin, peel literature [R-textbook]); restart the "
        "brightener at 72 h (peel literature [R-textbook], extrapolated to microneedling). No peel is offered: "
        "salicylic acid is reported safe in types I-III and V-VI (Arif, CCID 2015;8:455 [R]), which excludes "
        "type IV, and nothing supports TCA or medium peels with microneedling in dark skin; a clinic may copy "
        "this protocol for V-VI only and add the salicylic peel. PIH check 2-4 weeks after session 1 "
        "(bookable from day 14 to day 28). Keloid screen required.\n\n" + _COMMON_SOURCES
    ),
)

P4_POST_NON_COMEDOGENIC: Note = (
    "post",
    1,
    "Days 1 to 3: sunscreen, oil-free products, no sweating",
    "From 24 hours after treatment, apply an oil-free (non-comedogenic) mineral sunscreen SPF 30+ every "
    "morning and keep out of strong sun. Use only oil-free, non-comedogenic cleanser and moisturiser so "
    "pores do not clog while the skin heals. Until 72 hours after treatment: no swimming pool, sauna or "
    "exercise that makes you sweat heavily. Do not pick or squeeze spots.",
)
P4_POST_ACNE_ROUTINE: Note = (
    "post",
    7,
    "One week on: back to your acne routine",
    "From one week after treatment you can restart benzoyl peroxide, your retinoid and exfoliating "
    "products, if your skin is calm: start every other night. Keep to oil-free products and SPF 30+ "
    "every day. Your salicylic acid peel is about two weeks after each microneedling session.",
)

P4 = ProtocolDefaults(
    code="p4-oily-acne-prone-salicylic",
    name="P4 Oily or acne-prone, with salicylic peel",
    priority=20,
    fitzpatrick_min=1,
    fitzpatrick_max=3,
    age_min=18,
    age_max=None,
    severities=list(ALL_SEVERITIES),
    oiliness_types=["oily"],
    session_count=4,
    interval_min=4,
    interval_target=4,
    interval_max=8,
    depth_schedule=[0.5, 0.75, 1.0, 1.0],
    depth_cap_mm=Decimal("1.0"),
    combinations=[
        Combo(
            name="Salicylic acid peel 20-30%",
            kind="peel",
            placement="between",
            min_days_after_mn=14,
            min_days_before_mn=14,
            optional=False,
            duration_minutes=30,
            instructions="20-30% salicylic acid peel midway between microneedling sessions (weeks 2/6/10 with "
            "microneedling at weeks 0/4/8/12), 14 days from microneedling on each side. 30% salicylic acid "
            "every 2 weeks was safe in acne (Lee & Kim, Dermatol Surg 2003) and reduced sebum (J Cosmet "
            "Dermatol 2022) [R]. Not on active inflammatory lesions.",
        ),
        _retinoid_pause(7, 7, also="benzoyl peroxide"),
    ],
    care_notes=COMMON_PRE
    + [POST_FIRST_DAY, POST_WARNING_SIGNS, POST_NO_INJECTIONS, P4_POST_NON_COMEDOGENIC, P4_POST_ACNE_ROUTINE],
    description=(
        "Oily or acne-prone skin in Fitzpatrick types I-III, any adult age (oily skin in types IV-VI: P3, "
        "without a peel). No active inflammatory lesions (hard stop).\n\n"
        "Microneedling at weeks 0/4/8/12 (4 sessions, interval min 4 / target 4 / max 8 weeks; the minimum "
        "stays 4 weeks so the peel fits 14 days from microneedling on each side; the maximum of 8 weeks is the "
        "document's general default, extrapolated). Depth 0.5-1.0 mm (0.5 -> 0.75 -> 1.0 -> 1.0, cap 1.0 mm). "
        "20-30% salicylic acid peel at weeks 2/6/10, in the plan by default (not optional): safe every 2 weeks "
        "in acne (Lee & Kim, Dermatol Surg 2003) and reduced sebum (J Cosmet Dermatol 2022) [R]; safe in types "
        "I-III and V-VI (Arif, CCID 2015;8:455) [R]. Active inflammatory acne excludes mechanical "
        "microneedling [C]; fractional RF microneedling did not worsen active acne (Lee SJ, Dermatol Surg "
        "2012) [R] but that is a different device. Non-comedogenic aftercare; benzoyl peroxide and retinoid "
        "from D7.\n\n" + _COMMON_SOURCES
    ),
)

P5_POST_FIRST_DAY: Note = (
    "post",
    0,
    "Today and tonight: your first 24 hours",
    "Your skin will be red and may feel tight, warm or a little sore: this is normal and usually settles "
    "within 24 to 48 hours, sometimes a little longer for mature or dry skin. After a few hours, rinse with "
    "tepid water only and pat dry. Apply only the hyaluronic acid gel we gave you, as often as your skin "
    "feels tight; nothing else today, no makeup and no sunscreen. No exercise, sauna, steam room or "
    "jacuzzi for 24 hours. Sleep on a clean pillowcase.",
)

P5 = ProtocolDefaults(
    code="p5-mature-dry-sensitive",
    name="P5 Mature skin (50+)",
    priority=30,
    fitzpatrick_min=1,
    fitzpatrick_max=3,
    age_min=50,
    age_max=None,
    severities=list(ALL_SEVERITIES),
    oiliness_types=NOT_OILY,
    session_count=4,
    interval_min=4,
    interval_target=6,
    interval_max=8,
    depth_schedule=[0.5, 0.75, 1.0, 1.0],
    depth_cap_mm=Decimal("1.0"),
    combinations=[_retinoid_pause(7, 5)],
    care_notes=COMMON_PRE
    + [P5_POST_FIRST_DAY, POST_WARNING_SIGNS, POST_NO_INJECTIONS, POST_DAYS_1_3, POST_RESTART_ACTIVES, POST_EXFOLIANTS],
    maintenance_note=(
        "Photos and a pore score at every visit; final assessment 12 weeks after the last session; review and "
        "maintenance session every 6 months."
    ),
    description=(
        "Mature skin: clients 50 and over in Fitzpatrick types I-III with dry, normal or combination skin "
        "(oily: P4; types IV-VI: P3). The document proposes 'mature (50+) OR dry/sensitive'; a protocol "
        "matches when all its criteria hold, so dry or sensitive skin under 50 is not covered here (it "
        "gets P1/P2); copy this protocol with age 18+ and oiliness 'dry' to cover it.\n\n"
        "4 sessions (the document's range is 4-6; 4 chosen because trials in ages 35-75 and 44-65 used 4 "
        "monthly sessions: J Clin Aesthet Dermatol 2018, PMC6122507; Aesthet Surg J 2021 [R]). Interval min "
        "4 / target 6 / max 8 weeks: the document gives a target of 5-6 weeks; 6 chosen because aged skin "
        "heals more slowly, with a prolonged inflammatory phase (review, PMC9784880) [R]. No study sets "
        "intervals by age: age-based intervals are extrapolated. Depth 0.5-1.0 mm (0.5 -> 0.75 -> 1.0 -> "
        "1.0, cap 1.0 mm), hyaluronic acid only. Maintenance every 6 months (pore gains faded by 6 months "
        "without maintenance, Lasers Surg Med 2020 [R]).\n\n" + _COMMON_SOURCES
    ),
)

DEFAULT_PROTOCOLS: list[ProtocolDefaults] = [P1, P2, P3, P4, P5]


# --- As engine data (pure: the engine tests plan with exactly what ships) ---------------------


def default_protocol_params() -> tuple:
    """The shipped protocols as plans.planning.ProtocolParams, without a database.

    Ids are made up but stable: protocol n (P1 = 1) has combinations n*10 + position and care
    notes n*100 + position, so a test can choose a combination by id.
    """
    from plans import planning

    texts = {code: text for code, text, _help, _asks_date in SCREENING_QUESTIONS}
    return tuple(
        planning.protocol_params_from(
            spec,
            id=n,
            zones=spec.zones,
            contraindications=(
                planning.ContraindicationParams(code, action, texts[code], amount, unit, explanation)
                for code, action, amount, unit, explanation in spec.rules
            ),
            combinations=(
                planning.combination_params_from(c, id=n * 10 + position, position=position)
                for position, c in enumerate(spec.combinations, start=1)
            ),
            care_notes=(
                planning.CareNoteParams(n * 100 + position, phase, offset, subject, body)
                for position, (phase, offset, subject, body) in enumerate(spec.care_notes, start=1)
            ),
            reminder_leads=(planning.ReminderLeadParams(h, pre) for h, pre in spec.reminder_leads),
        )
        for n, spec in enumerate(DEFAULT_PROTOCOLS, start=1)
    )


# --- Loader -------------------------------------------------------------------------------


@dataclass
class LoadResult:
    questions_created: list[str] = field(default_factory=list)
    protocols_created: list[str] = field(default_factory=list)
    protocols_skipped: list[str] = field(default_factory=list)

    @property
    def created_anything(self) -> bool:
        return bool(self.questions_created or self.protocols_created)


def load_default_protocols(apps=None) -> LoadResult:
    """Create the shipped screening questions and protocols that are missing, matched by `code`.

    Existing rows are never touched, so an admin's edits (and deliberately deleted inline rows)
    survive every re-run. Pass the historical `apps` from a data migration; without it the
    current models are used (management commands, tests).
    """
    from django.db import transaction

    if apps is None:
        from django.apps import apps as current_apps

        apps = current_apps
    Question = apps.get_model("plans", "ScreeningQuestion")
    Protocol = apps.get_model("plans", "Protocol")
    result = LoadResult()

    with transaction.atomic():
        existing_questions = set(Question.objects.values_list("code", flat=True))
        for position, (code, text, help_text, asks_date) in enumerate(SCREENING_QUESTIONS, start=1):
            if code not in existing_questions:
                Question.objects.create(
                    code=code, text=text, help_text=help_text, asks_date=asks_date, position=position * 10
                )
                result.questions_created.append(code)
        questions = {q.code: q for q in Question.objects.all()}

        existing_codes = set(Protocol.objects.values_list("code", flat=True))
        taken_names = set(Protocol.objects.values_list("name", flat=True))
        for spec in DEFAULT_PROTOCOLS:
            if spec.code in existing_codes:
                continue
            if spec.name in taken_names:
                # An admin gave another protocol this name; creating ours would break the
                # unique name, and renaming theirs would overwrite their work.
                result.protocols_skipped.append(spec.code)
                continue
            _create_protocol(apps, spec, questions)
            result.protocols_created.append(spec.code)
    return result


def _create_protocol(apps, spec: ProtocolDefaults, questions: dict) -> None:
    Protocol = apps.get_model("plans", "Protocol")
    # Migration 0002 runs this with the models as they were then: fields added later (zones, the
    # review visit) are left out, and later migrations (0009) fill them in for the shipped rows.
    known = {f.name for f in Protocol._meta.get_fields()}
    protocol = Protocol.objects.create(**{k: v for k, v in spec.protocol_fields().items() if k in known})
    Rule = apps.get_model("plans", "ContraindicationRule")
    action_length = Rule._meta.get_field("action").max_length
    Rule.objects.bulk_create(
        Rule(
            protocol=protocol,
            question=questions[code],
            # Before 0009 there was no "defer_review": such a rule starts as a deferral and 0009 upgrades it.
            action=action if len(action) <= action_length else "defer",
            window_amount=amount,
            window_unit=unit,
            explanation=explanation,
        )
        for code, action, amount, unit, explanation in spec.rules
        if code in questions
    )
    CombinationTreatment = apps.get_model("plans", "CombinationTreatment")
    CombinationTreatment.objects.bulk_create(
        CombinationTreatment(
            protocol=protocol,
            position=position,
            name=combo.name,
            kind=combo.kind,
            placement=combo.placement,
            after_sessions=list(combo.after_sessions),
            offset_days=combo.offset_days,
            end_offset_days=combo.end_offset_days,
            min_days_after_mn=combo.min_days_after_mn,
            min_days_before_mn=combo.min_days_before_mn,
            optional=combo.optional,
            books_appointment=combo.books_appointment,
            duration_minutes=combo.duration_minutes,
            instructions=combo.instructions,
        )
        for position, combo in enumerate(spec.combinations, start=1)
    )
    CareNote = apps.get_model("plans", "CareNote")
    CareNote.objects.bulk_create(
        CareNote(protocol=protocol, phase=phase, offset_days=offset, subject=subject, body=body, position=position)
        for position, (phase, offset, subject, body) in enumerate(spec.care_notes, start=1)
    )
    ReminderLead = apps.get_model("plans", "ReminderLead")
    ReminderLead.objects.bulk_create(
        ReminderLead(protocol=protocol, hours_before=hours, include_pre_care=pre_care)
        for hours, pre_care in spec.reminder_leads
    )
