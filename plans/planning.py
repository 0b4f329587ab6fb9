"""The plan engine: from a client's profile and the clinic's protocols to an explained plan proposal.

Pure Python (stdlib only): frozen dataclasses in, a frozen PlanProposal out, no ORM and no
clock, so the same input always gives the same plan and the engine is tested without a
database. plans/services/plans.py turns DB rows into these dataclasses and back.

Decisions, in order (each one leaves a RationaleEntry naming the client factor, its effect
and the protocol or source behind it):

1. Age on the requested start date below the clinic's minimum age: no plan (hard stop); so
   is a screening older than request.screening_max_age_days (counted to request.today).
2. Protocol choice. A protocol that breaks the clinic's safety floor (request.floor,
   plans/safety.py) is excluded first, with the limit it breaks as the reason. A protocol
   matches when it is active and the client's Fitzpatrick type, age, pore concern and
   oiliness are all inside its criteria. Among the matches the *most
   specific* wins: the one whose criteria admit the smallest share of all possible clients,
       share = (Fitzpatrick types admitted / 6) x (ages admitted in 0-99 / 100)
               x (pore concerns admitted / 3) x (oiliness types admitted / 4)
   ties go to the lower admin-set priority, then the code (alphabetical) so the choice is
   always deterministic. No match: the proposal lists, per protocol, each criterion that
   excluded it.
3. Screening, with the chosen protocol's contraindication rules. A rule applies when the
   answer is yes and, for a rule with a window, the event's date plus the window (months are
   calendar months) is after the requested start; a yes without a date counts as current.
   hard_stop -> no plan, with the reasons; review -> the plan needs a clinician's
   acknowledgement; defer -> the earliest start moves to the end of the window (a deferral
   whose date is unknown becomes a review item: nobody can compute its end); defer_review ->
   both. A rule whose question was not answered at the current screen is a review item,
   except a hard-stop rule: an unanswered stopping question stops the plan. The safety
   floor's hard stops (plans/safety.py) stop it even when a protocol lacks their rule.
4. Microneedling sessions. Session 1's target is the earliest start (or, when a priming span
   is in the plan, the earliest start plus the priming days, so priming can run first); its
   window is [target, target + (max - min interval)], i.e. the same slack the interval rule
   gives every later session. Session k+1: earliest = target_k + min, target = target_k +
   target interval, latest = target_k + max. Windows are anchored on the *planned* targets;
   booking re-anchors the following sessions on the booked dates.
5. Depth per session: the protocol's schedule, never above its cap.
6. Combination treatments (non-optional ones always, optional ones when chosen):
   - between: midway between consecutive MN targets k and k+1; window = [target_k +
     min_days_after_mn, target_{k+1} - min_days_before_mn].
   - after: offset_days after MN session k; window = [target_k + offset_days, target_k +
     max(offset_days, end_offset_days)], trimmed to keep min days before the next session.
   - around: a span (not booked) from offset_days before to end_offset_days after session k.
   - before_first: a span (not booked) from offset_days before session 1 to end_offset_days
     before it.
   Every booked combination's whole window (and so its target) keeps at least
   min_days_after_mn after every MN target before it and min_days_before_mn before every MN
   target after it; a span keeps the same distance from every MN session except the one it
   is anchored on. One that cannot fit is left out with a warning saying why.
7. Care notes are dated relative to each MN target; reminder leads are listed per booked
   visit with the day they would fall on if the visit is booked on its target day.
8. Follow-up assessment: follow_up_days after the last MN target, window [target - 7 days
   (never before the last MN target), target + 14 days].
   With review_after_days, a review visit that many days after the last MN target,
   window +-14 days (pore gains fade by about 6 months without maintenance).

Rules 6 (for spans) and 7 also place a plan as it is after booking: plan_layout takes the
sessions' current dates instead of the targets (plans/selectors.py plan_now). suggest_start
finds the first requested start whose earliest pre-care note is not already in the past.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from plans.safety import CLINIC_FLOOR, Floor, protocol_problems

SNAPSHOT_VERSION = 1

FITZPATRICK_LABELS = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI"}
SEVERITIES = ("mild", "moderate", "severe")
OILINESS_TYPES = ("dry", "normal", "combination", "oily")

HARD_STOP = "hard_stop"
REVIEW = "review"
DEFER = "defer"
# Defers the start to the end of the window AND needs a clinician's review (isotretinoin,
# toxin/filler, tan): one rule, so the admin shows one row per question.
DEFER_REVIEW = "defer_review"
DEFERS = (DEFER, DEFER_REVIEW)

BETWEEN = "between"
AFTER = "after"
AROUND = "around"
BEFORE_FIRST = "before_first"

MICRONEEDLING = "microneedling"
COMBINATION = "combination"
FOLLOW_UP = "follow_up"

FOLLOW_UP_EARLY_DAYS = 7
FOLLOW_UP_LATE_DAYS = 14
REVIEW_WINDOW_DAYS = 14


# --- Input ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScreeningAnswer:
    answer: bool
    last_date: dt.date | None = None


@dataclass(frozen=True)
class ClientProfile:
    date_of_birth: dt.date
    fitzpatrick: int
    oiliness: str
    pore_severity: str
    # question code -> answer at the client's current screen; a missing code was not asked.
    screening: Mapping[str, ScreeningAnswer] = field(default_factory=dict)
    # The day of that screen (None: not known, e.g. no screen at all).
    screened_on: dt.date | None = None

    def age_on(self, day: dt.date) -> int:
        born = self.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@dataclass(frozen=True)
class ContraindicationParams:
    question_code: str
    action: str  # hard_stop | review | defer | defer_review
    question_text: str = ""
    window_amount: int | None = None
    window_unit: str = ""  # days | weeks | months | ""
    explanation: str = ""


@dataclass(frozen=True)
class CombinationParams:
    id: int
    name: str
    kind: str
    placement: str
    after_sessions: tuple[int, ...] = ()
    offset_days: int = 0
    end_offset_days: int = 0
    min_days_after_mn: int = 0
    min_days_before_mn: int = 0
    optional: bool = True
    books_appointment: bool = True
    duration_minutes: int = 30
    instructions: str = ""
    position: int = 0


@dataclass(frozen=True)
class CareNoteParams:
    id: int
    phase: str  # pre | post
    offset_days: int
    subject: str
    body: str = ""


@dataclass(frozen=True)
class ZoneCap:
    """The deepest a zone of the face may be needled, whatever the session's (cheek) depth."""

    zone: str
    cap_mm: Decimal


@dataclass(frozen=True)
class ReminderLeadParams:
    hours_before: int
    include_pre_care: bool = False


@dataclass(frozen=True)
class ProtocolParams:
    code: str
    name: str
    session_count: int
    interval_min_days: int
    interval_target_days: int
    interval_max_days: int
    depth_schedule: tuple[Decimal, ...]
    depth_cap_mm: Decimal
    id: int | None = None
    description: str = ""
    active: bool = True
    priority: int = 100
    fitzpatrick_min: int = 1
    fitzpatrick_max: int = 6
    age_min: int = 18
    age_max: int | None = None
    severities: tuple[str, ...] = SEVERITIES
    oiliness_types: tuple[str, ...] = OILINESS_TYPES
    session_minutes: int = 60
    buffer_minutes: int = 15
    device: str = "pen"
    depth_notes: str = ""
    follow_up_days: int = 84
    maintenance_note: str = ""
    # Days after the last session for the review visit (0: none is proposed).
    review_after_days: int = 0
    zones: tuple[ZoneCap, ...] = ()
    contraindications: tuple[ContraindicationParams, ...] = ()
    combinations: tuple[CombinationParams, ...] = ()
    care_notes: tuple[CareNoteParams, ...] = ()
    reminder_leads: tuple[ReminderLeadParams, ...] = ()

    @property
    def zones_capped(self) -> tuple[ZoneCap, ...]:
        """Each zone's cap as it applies: never deeper than the protocol's own cap."""
        return tuple(ZoneCap(z.zone, min(z.cap_mm, self.depth_cap_mm)) for z in self.zones)

    @property
    def optional_combinations(self) -> tuple[CombinationParams, ...]:
        return tuple(c for c in self.combinations if c.optional)

    def care_notes_for(self, phase: str) -> tuple[CareNoteParams, ...]:
        """The pre- or post-care notes in the order a client reads them (by day, then id)."""
        return tuple(sorted((n for n in self.care_notes if n.phase == phase), key=lambda n: (n.offset_days, str(n.id))))

    def care_note(self, phase: str, note_id: str) -> CareNoteParams | None:
        return next((n for n in self.care_notes_for(phase) if str(n.id) == str(note_id)), None)

    @property
    def reminder_leads_longest_first(self) -> tuple[ReminderLeadParams, ...]:
        by_hours = {r.hours_before: r for r in self.reminder_leads}
        return tuple(by_hours[h] for h in sorted(by_hours, reverse=True))

    def reminder_includes_pre_care(self, hours_before: int) -> bool:
        return any(r.hours_before == hours_before and r.include_pre_care for r in self.reminder_leads)

    def to_snapshot(self) -> dict[str, Any]:
        """JSON-ready parameters, stored on TreatmentPlan.protocol_snapshot and read by booking and email."""
        return {
            "version": SNAPSHOT_VERSION,
            "id": self.id,
            "code": self.code,
            "name": self.name,
            "description": self.description,
            "active": self.active,
            "priority": self.priority,
            "fitzpatrick_min": self.fitzpatrick_min,
            "fitzpatrick_max": self.fitzpatrick_max,
            "age_min": self.age_min,
            "age_max": self.age_max,
            "severities": list(self.severities),
            "oiliness_types": list(self.oiliness_types),
            "session_count": self.session_count,
            "interval_min_days": self.interval_min_days,
            "interval_target_days": self.interval_target_days,
            "interval_max_days": self.interval_max_days,
            "session_minutes": self.session_minutes,
            "buffer_minutes": self.buffer_minutes,
            "device": self.device,
            "depth_schedule": [str(d) for d in self.depth_schedule],
            "depth_cap_mm": str(self.depth_cap_mm),
            "depth_notes": self.depth_notes,
            "follow_up_days": self.follow_up_days,
            "maintenance_note": self.maintenance_note,
            "review_after_days": self.review_after_days,
            "zones": [{"zone": z.zone, "cap_mm": str(z.cap_mm)} for z in self.zones],
            "reminder_leads": [
                {"hours_before": r.hours_before, "include_pre_care": r.include_pre_care} for r in self.reminder_leads
            ],
            "care_notes": [
                {"id": n.id, "phase": n.phase, "offset_days": n.offset_days, "subject": n.subject, "body": n.body}
                for n in self.care_notes
            ],
            "combinations": [
                {
                    "id": c.id,
                    "name": c.name,
                    "kind": c.kind,
                    "placement": c.placement,
                    "after_sessions": list(c.after_sessions),
                    "offset_days": c.offset_days,
                    "end_offset_days": c.end_offset_days,
                    "min_days_after_mn": c.min_days_after_mn,
                    "min_days_before_mn": c.min_days_before_mn,
                    "optional": c.optional,
                    "books_appointment": c.books_appointment,
                    "duration_minutes": c.duration_minutes,
                    "instructions": c.instructions,
                    "position": c.position,
                }
                for c in self.combinations
            ],
            "contraindications": [
                {
                    "question_code": r.question_code,
                    "question_text": r.question_text,
                    "action": r.action,
                    "window_amount": r.window_amount,
                    "window_unit": r.window_unit,
                    "explanation": r.explanation,
                }
                for r in self.contraindications
            ],
        }

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> ProtocolParams:
        """The inverse of to_snapshot; keys it does not know (e.g. "plan") are ignored."""
        version = data.get("version", SNAPSHOT_VERSION)
        if version != SNAPSHOT_VERSION:
            # A later format must come with its own reader here, not be half-read by this one.
            raise ValueError(f"Protocol snapshot version {version!r} is not {SNAPSHOT_VERSION}.")
        return cls(
            id=data.get("id"),
            code=data["code"],
            name=data["name"],
            description=data.get("description", ""),
            active=data.get("active", True),
            priority=data.get("priority", 100),
            fitzpatrick_min=data.get("fitzpatrick_min", 1),
            fitzpatrick_max=data.get("fitzpatrick_max", 6),
            age_min=data.get("age_min", 18),
            age_max=data.get("age_max"),
            severities=tuple(data.get("severities", SEVERITIES)),
            oiliness_types=tuple(data.get("oiliness_types", OILINESS_TYPES)),
            session_count=data["session_count"],
            interval_min_days=data["interval_min_days"],
            interval_target_days=data["interval_target_days"],
            interval_max_days=data["interval_max_days"],
            session_minutes=data.get("session_minutes", 60),
            buffer_minutes=data.get("buffer_minutes", 15),
            device=data.get("device", "pen"),
            depth_schedule=tuple(Decimal(str(d)) for d in data["depth_schedule"]),
            depth_cap_mm=Decimal(str(data["depth_cap_mm"])),
            depth_notes=data.get("depth_notes", ""),
            follow_up_days=data.get("follow_up_days", 84),
            maintenance_note=data.get("maintenance_note", ""),
            # Snapshots written before zones and the review visit existed read as "none".
            review_after_days=data.get("review_after_days", 0),
            zones=tuple(ZoneCap(z["zone"], Decimal(str(z["cap_mm"]))) for z in data.get("zones", [])),
            reminder_leads=tuple(ReminderLeadParams(**r) for r in data.get("reminder_leads", [])),
            care_notes=tuple(CareNoteParams(**n) for n in data.get("care_notes", [])),
            combinations=tuple(
                CombinationParams(**{**c, "after_sessions": tuple(c.get("after_sessions", []))})
                for c in data.get("combinations", [])
            ),
            contraindications=tuple(ContraindicationParams(**r) for r in data.get("contraindications", [])),
        )


# The attributes a protocol carries under the same name wherever it is written down: a
# Protocol row (plans/services/plans.py) or a shipped default (plans/defaults.py). One list,
# so the two cannot drift apart.
_PROTOCOL_FIELDS = (
    "code", "name", "description", "priority", "fitzpatrick_min", "fitzpatrick_max", "age_min", "age_max",
    "session_count", "session_minutes", "buffer_minutes", "device", "depth_notes", "follow_up_days",
    "maintenance_note", "review_after_days",
)  # fmt: skip
_COMBINATION_FIELDS = (
    "name", "kind", "placement", "offset_days", "end_offset_days", "min_days_after_mn", "min_days_before_mn",
    "optional", "books_appointment", "duration_minutes", "instructions",
)  # fmt: skip


def combination_params_from(source: Any, *, id: int, position: int) -> CombinationParams:
    """A combination treatment (a row or a shipped default) as engine data."""
    return CombinationParams(
        id=id,
        position=position,
        after_sessions=tuple(source.after_sessions or ()),
        **{name: getattr(source, name) for name in _COMBINATION_FIELDS},
    )


def protocol_params_from(
    source: Any,
    *,
    id: int | None,
    active: bool = True,
    zones: Iterable[tuple[str, Any]] = (),
    contraindications: Iterable[ContraindicationParams] = (),
    combinations: Iterable[CombinationParams] = (),
    care_notes: Iterable[CareNoteParams] = (),
    reminder_leads: Iterable[ReminderLeadParams] = (),
) -> ProtocolParams:
    """A protocol (a Protocol row or a shipped default) as engine data: intervals in days,
    depths as Decimals. The caller gives what each source holds differently (ids, inlines)."""
    days = 7 if source.interval_unit == "weeks" else 1
    return ProtocolParams(
        id=id,
        active=active,
        severities=tuple(source.severities),
        oiliness_types=tuple(source.oiliness_types),
        interval_min_days=source.interval_min * days,
        interval_target_days=source.interval_target * days,
        interval_max_days=source.interval_max * days,
        depth_schedule=tuple(Decimal(str(d)) for d in source.depth_schedule),
        depth_cap_mm=Decimal(str(source.depth_cap_mm)),
        zones=tuple(ZoneCap(zone, Decimal(str(cap))) for zone, cap in zones),
        contraindications=tuple(contraindications),
        combinations=tuple(combinations),
        care_notes=tuple(care_notes),
        reminder_leads=tuple(reminder_leads),
        **{name: getattr(source, name) for name in _PROTOCOL_FIELDS},
    )


@dataclass(frozen=True)
class PlanRequest:
    profile: ClientProfile
    protocols: tuple[ProtocolParams, ...]
    requested_start: dt.date
    selected_combinations: frozenset[int] = frozenset()
    clinic_min_age: int = 18
    # The day the plan is made, only to warn about pre-care that would already be late;
    # None (the default, as in the property tests) skips that check.
    today: dt.date | None = None
    # The clinic-wide limits a protocol must keep to be chosen (plans.safety).
    floor: Floor = CLINIC_FLOOR
    # A screen older than this many days (counted to `today`) cannot make a plan; None: no limit.
    screening_max_age_days: int | None = None


# --- Output -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RationaleEntry:
    topic: str  # age | protocol | excluded | screening | deferral | interval | depth | combination | follow_up
    factor: str  # the client factor (or the choice) behind the decision
    effect: str  # what it did to the plan
    source: str  # the protocol, rule or reference behind it

    def as_dict(self) -> dict[str, str]:
        return {"topic": self.topic, "factor": self.factor, "effect": self.effect, "source": self.source}


@dataclass(frozen=True)
class Exclusion:
    protocol_code: str
    protocol_name: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ReviewItem:
    question_code: str
    text: str
    explanation: str

    def as_dict(self) -> dict[str, str]:
        return {"question_code": self.question_code, "text": self.text, "explanation": self.explanation}


@dataclass(frozen=True)
class ProposedSession:
    """A visit to book: a microneedling session, a combination treatment or the follow-up."""

    sequence: int
    kind: str
    title: str
    earliest: dt.date
    target: dt.date
    latest: dt.date
    duration_minutes: int
    buffer_minutes: int = 0
    mn_number: int | None = None
    depth_mm: Decimal | None = None
    combination_id: int | None = None
    min_days_after_mn: int = 0
    min_days_before_mn: int = 0


@dataclass(frozen=True)
class Span:
    """A combination that is not a visit (a pause, priming at home): a stretch of days."""

    combination_id: int
    name: str
    kind: str
    start: dt.date
    end: dt.date
    anchor_session: int  # the MN session number it is placed around / before
    instructions: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "combination_id": self.combination_id,
            "name": self.name,
            "kind": self.kind,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "anchor_session": self.anchor_session,
            "instructions": self.instructions,
        }


@dataclass(frozen=True)
class CareNoteDue:
    mn_number: int
    note_id: int
    phase: str
    subject: str
    day: dt.date
    offset_days: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "mn_number": self.mn_number,
            "note_id": self.note_id,
            "phase": self.phase,
            "subject": self.subject,
            "day": self.day.isoformat(),
            "offset_days": self.offset_days,
        }


@dataclass(frozen=True)
class ReminderDue:
    sequence: int
    hours_before: int
    include_pre_care: bool
    # The day the reminder falls on if the visit is booked on its target day during
    # working hours (h // 24 days before); the outbox computes the exact time on booking.
    about_day: dt.date


@dataclass(frozen=True)
class PlanProposal:
    status: str  # ok | hard_stop | no_protocol
    requested_start: dt.date
    earliest_start: dt.date
    protocol: ProtocolParams | None = None
    age: int | None = None
    exclusions: tuple[Exclusion, ...] = ()
    hard_stops: tuple[str, ...] = ()
    review_items: tuple[ReviewItem, ...] = ()
    sessions: tuple[ProposedSession, ...] = ()
    spans: tuple[Span, ...] = ()
    care_schedule: tuple[CareNoteDue, ...] = ()
    reminders: tuple[ReminderDue, ...] = ()
    selected_combinations: tuple[int, ...] = ()
    warnings: tuple[str, ...] = ()
    rationale: tuple[RationaleEntry, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def is_hard_stop(self) -> bool:
        return self.status == "hard_stop"

    @property
    def found_no_protocol(self) -> bool:
        return self.status == "no_protocol"

    @property
    def needs_review(self) -> bool:
        return bool(self.review_items)

    @property
    def mn_sessions(self) -> tuple[ProposedSession, ...]:
        return tuple(s for s in self.sessions if s.kind == MICRONEEDLING)

    @property
    def follow_up(self) -> ProposedSession | None:
        return next((s for s in self.sessions if s.kind == FOLLOW_UP), None)


# --- Helpers ----------------------------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """Calendar months, clamped to the month's last day (31 Aug + 6 months = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def window_end(day: dt.date, amount: int, unit: str) -> dt.date:
    if unit == "months":
        return add_months(day, amount)
    if unit == "weeks":
        return day + dt.timedelta(weeks=amount)
    return day + dt.timedelta(days=amount)


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _fitz_range(p: ProtocolParams) -> str:
    lo, hi = FITZPATRICK_LABELS[p.fitzpatrick_min], FITZPATRICK_LABELS[p.fitzpatrick_max]
    return f"type {lo}" if lo == hi else f"types {lo}–{hi}"


def _age_range(p: ProtocolParams) -> str:
    return f"{p.age_min}+" if p.age_max is None else f"{p.age_min}–{p.age_max}"


def _source(p: ProtocolParams, extra: str = "") -> str:
    base = f"Protocol {p.name} ({p.code})"
    return f"{base}: {extra}" if extra else base


def _mm(value: Decimal) -> str:
    return f"{value.normalize():f} mm"


def specificity_share(p: ProtocolParams) -> float:
    """The share of all possible client profiles the protocol admits; smaller is more specific."""
    fitz = (p.fitzpatrick_max - p.fitzpatrick_min + 1) / 6
    top = 99 if p.age_max is None else min(p.age_max, 99)
    ages = max(top - min(p.age_min, 99) + 1, 1) / 100
    severities = len(set(p.severities) & set(SEVERITIES)) / len(SEVERITIES)
    oiliness = len(set(p.oiliness_types) & set(OILINESS_TYPES)) / len(OILINESS_TYPES)
    return fitz * ages * severities * oiliness


def exclusion_reasons(
    p: ProtocolParams, profile: ClientProfile, age: int, floor: Floor = CLINIC_FLOOR
) -> tuple[str, ...]:
    reasons = []
    if not p.active:
        reasons.append("the protocol is inactive")
    # Checked before the client's criteria: a protocol below the floor is never a candidate.
    reasons.extend(f"breaks the clinic's safety floor: {problem}" for problem in protocol_problems(p, floor))
    if not p.fitzpatrick_min <= profile.fitzpatrick <= p.fitzpatrick_max:
        reasons.append(
            f"Fitzpatrick type {FITZPATRICK_LABELS.get(profile.fitzpatrick, profile.fitzpatrick)} "
            f"is outside {_fitz_range(p)}"
        )
    if age < p.age_min:
        reasons.append(f"age {age} is below the protocol's minimum of {p.age_min}")
    elif p.age_max is not None and age > p.age_max:
        reasons.append(f"age {age} is above the protocol's maximum of {p.age_max}")
    if profile.pore_severity not in p.severities:
        reasons.append(f"pore concern '{profile.pore_severity}' is not one it treats ({', '.join(p.severities)})")
    if profile.oiliness not in p.oiliness_types:
        reasons.append(f"oiliness '{profile.oiliness}' is not one it treats ({', '.join(p.oiliness_types)})")
    return tuple(reasons)


def choose_protocol(
    protocols: Iterable[ProtocolParams], profile: ClientProfile, age: int, floor: Floor = CLINIC_FLOOR
) -> tuple[ProtocolParams | None, tuple[Exclusion, ...], tuple[ProtocolParams, ...]]:
    """(winner, exclusions of non-matching protocols, other matching protocols it beat)."""
    matches: list[ProtocolParams] = []
    exclusions: list[Exclusion] = []
    for p in sorted(protocols, key=lambda p: p.code):
        reasons = exclusion_reasons(p, profile, age, floor)
        if reasons:
            exclusions.append(Exclusion(p.code, p.name, reasons))
        else:
            matches.append(p)
    matches.sort(key=lambda p: (specificity_share(p), p.priority, p.code))
    if not matches:
        return None, tuple(exclusions), ()
    return matches[0], tuple(exclusions), tuple(matches[1:])


# --- The engine -------------------------------------------------------------------------------


class _Builder:
    def __init__(self, request: PlanRequest):
        self.request = request
        self.rationale: list[RationaleEntry] = []
        self.warnings: list[str] = []

    def note(self, topic: str, factor: str, effect: str, source: str) -> None:
        self.rationale.append(RationaleEntry(topic, factor, effect, source))


def propose_plan(request: PlanRequest) -> PlanProposal:
    """The whole decision, deterministic in its input. See the module docstring for the rules."""
    b = _Builder(request)
    profile, start = request.profile, request.requested_start
    age = profile.age_on(start)

    if age < request.clinic_min_age:
        reason = f"The client is {age} on {start:%d %b %Y}; the clinic's minimum age is {request.clinic_min_age}."
        b.note("age", f"Age {age} on the start date", "No plan: below the clinic's minimum age.", "Clinic policy")
        return PlanProposal(
            status="hard_stop",
            requested_start=start,
            earliest_start=start,
            age=age,
            hard_stops=(reason,),
            rationale=tuple(b.rationale),
        )

    if stale := _stale_screening(request):
        b.note("screening", "Screening date", "No plan: " + stale, "Clinic policy (SCREENING_MAX_AGE_DAYS)")
        return PlanProposal(
            status="hard_stop",
            requested_start=start,
            earliest_start=start,
            age=age,
            hard_stops=(stale,),
            rationale=tuple(b.rationale),
        )

    protocol, exclusions, beaten = choose_protocol(request.protocols, profile, age, request.floor)
    for ex in exclusions:
        b.note("excluded", "; ".join(ex.reasons), f"Protocol {ex.protocol_name} does not apply.", ex.protocol_code)
    if protocol is None:
        b.warnings.append("No active protocol matches this client: see why each protocol was excluded.")
        return PlanProposal(
            status="no_protocol",
            requested_start=start,
            earliest_start=start,
            age=age,
            exclusions=exclusions,
            warnings=tuple(b.warnings),
            rationale=tuple(b.rationale),
        )

    _note_protocol_choice(b, protocol, beaten, profile, age)
    hard_stops, review_items, earliest = _screen(b, protocol, profile, start)
    if hard_stops:
        return PlanProposal(
            status="hard_stop",
            requested_start=start,
            earliest_start=earliest,
            protocol=protocol,
            age=age,
            exclusions=exclusions,
            hard_stops=tuple(hard_stops),
            review_items=tuple(review_items),
            warnings=tuple(b.warnings),
            rationale=tuple(b.rationale),
        )

    combos = _included_combinations(b, protocol, request.selected_combinations)
    priming = [c for c in combos if c.placement == BEFORE_FIRST]
    first_target = earliest
    if priming:
        lead = max(max(c.offset_days, c.end_offset_days) for c in priming)
        first_target = earliest + _days(lead)
        b.note(
            "interval",
            f"Priming ({', '.join(c.name for c in priming)}) is in the plan",
            f"Session 1 moves to {first_target:%d %b %Y}: {_plural(lead, 'day')} of priming come first.",
            _source(protocol),
        )

    mn = _mn_sessions(b, protocol, first_target)
    targets = [s.target for s in mn]
    visits: list[ProposedSession] = list(mn)
    spans: list[Span] = []
    for combo in combos:
        placed_visits, placed_spans = _place_combination(b, protocol, combo, targets)
        visits.extend(placed_visits)
        spans.extend(placed_spans)
    visits.append(_follow_up(b, protocol, targets[-1]))
    if protocol.review_after_days:
        visits.append(_review_visit(b, protocol, targets[-1]))

    kind_order = {MICRONEEDLING: 0, COMBINATION: 1, FOLLOW_UP: 2}
    visits.sort(key=lambda s: (s.target, kind_order[s.kind], s.mn_number or 0, s.combination_id or 0, s.title))
    visits = [_renumber(s, i) for i, s in enumerate(visits, start=1)]
    spans.sort(key=lambda s: (s.start, s.combination_id, s.anchor_session))

    care = care_schedule(protocol, dict(enumerate(targets, start=1)))
    if request.today is not None and (late := late_pre_care(care, request.today)):
        b.warnings.append(late_pre_care_warning(late))
    reminders = tuple(
        ReminderDue(
            s.sequence,
            r.hours_before,
            r.include_pre_care and s.kind == MICRONEEDLING,
            s.target - _days(r.hours_before // 24),
        )
        for s in visits
        for r in sorted(protocol.reminder_leads, key=lambda r: -r.hours_before)
    )
    if age >= 50 and protocol.age_min >= 50:
        # The protocol was chosen for age: its longer interval is the age adjustment.
        b.note(
            "age",
            f"Age {age} on the start date",
            f"Protocol {protocol.name} is for clients {_age_range(protocol)}: its target interval of "
            f"{protocol.interval_target_days} days is chosen for age, because aged skin heals more slowly "
            "(extrapolated: no study sets intervals by age). Watch healing before each session.",
            "Review of wound healing in aged skin (PMC9784880)",
        )
    elif age >= 50:
        b.note(
            "age",
            f"Age {age} on the start date",
            "Aged skin heals more slowly; this protocol's interval and depth apply unchanged (no study sets "
            "intervals by age), so watch healing before each session.",
            "Review of wound healing in aged skin (PMC9784880)",
        )
    elif age < 22:
        b.warnings.append(
            f"The client is {age}: SkinPen is cleared for adults aged 22 or over; a younger client needs the "
            "clinician's judgement."
        )
        b.note("age", f"Age {age} on the start date", "Flagged: below the device's cleared age of 22.", "FDA DEN160029")

    return PlanProposal(
        status="ok",
        requested_start=start,
        earliest_start=earliest,
        protocol=protocol,
        age=age,
        exclusions=exclusions,
        review_items=tuple(review_items),
        sessions=tuple(visits),
        spans=tuple(spans),
        care_schedule=care,
        reminders=reminders,
        selected_combinations=tuple(sorted(c.id for c in combos if c.optional)),
        warnings=tuple(b.warnings),
        rationale=tuple(b.rationale),
    )


def _note_protocol_choice(
    b: _Builder, p: ProtocolParams, beaten: tuple[ProtocolParams, ...], profile: ClientProfile, age: int
) -> None:
    factor = (
        f"Fitzpatrick type {FITZPATRICK_LABELS[profile.fitzpatrick]}, age {age}, "
        f"{profile.pore_severity} pore concern, {profile.oiliness} skin"
    )
    effect = (
        f"Protocol {p.name} chosen: it covers {_fitz_range(p)}, ages {_age_range(p)}, "
        f"{', '.join(p.severities)} pores, {', '.join(p.oiliness_types)} skin."
    )
    if beaten:
        effect += (
            " It is more specific than (or ties and has priority over) "
            + ", ".join(f"{o.name}" for o in beaten)
            + ", which also match."
        )
    b.note("protocol", factor, effect, _source(p, p.description.splitlines()[0] if p.description else ""))


def _screen(
    b: _Builder, p: ProtocolParams, profile: ClientProfile, start: dt.date
) -> tuple[list[str], list[ReviewItem], dt.date]:
    hard_stops: list[str] = []
    reviews: list[ReviewItem] = []
    earliest = start
    for rule in p.contraindications:
        label = (rule.question_text or rule.question_code).rstrip("?")
        why = rule.explanation or "protocol rule"
        source = _source(p, why)
        answer = profile.screening.get(rule.question_code)
        if answer is None and rule.action == HARD_STOP:
            # A question that could stop the plan cannot be waved through by a review.
            hard_stops.append(f"Not answered: {label}. Ask it before planning ({why}).")
            b.note("screening", f"{label}: not answered", "Hard stop: a stopping question must be answered.", source)
            continue
        if answer is None:
            reviews.append(
                ReviewItem(rule.question_code, f"Not answered at the current screen: {label}", "Ask before treating.")
            )
            b.note("screening", f"{label}: not answered", "Needs clinician review before the plan is accepted.", source)
            continue
        if not answer.answer:
            continue
        has_window = rule.window_amount is not None and rule.window_unit
        if has_window and answer.last_date is not None:
            ends = window_end(answer.last_date, rule.window_amount, rule.window_unit)
            if ends <= start:
                b.note(
                    "screening",
                    f"{label}: yes, last on {answer.last_date:%d %b %Y}",
                    f"No effect: more than {rule.window_amount} {rule.window_unit} before the start.",
                    source,
                )
                continue
        else:
            ends = None
        when = f", last on {answer.last_date:%d %b %Y}" if answer.last_date else ""
        if rule.action == HARD_STOP:
            hard_stops.append(f"{label} (yes{when}): {why}")
            b.note("screening", f"{label}: yes{when}", "Hard stop: no plan can be made.", source)
        elif rule.action in DEFERS and ends is not None:
            if rule.action == DEFER_REVIEW:
                reviews.append(ReviewItem(rule.question_code, f"{label} (yes{when}): deferred and reviewed", why))
            if ends > earliest:
                earliest = ends
            b.note(
                "deferral",
                f"{label}: yes{when}",
                f"Earliest start moved to {ends:%d %b %Y} ({rule.window_amount} {rule.window_unit} after)."
                + (" A clinician also reviews it before the plan is accepted." if rule.action == DEFER_REVIEW else ""),
                source,
            )
        else:
            # A review rule, or a deferral whose date is unknown so its end cannot be computed.
            text = f"{label} (yes{when})"
            if rule.action in DEFERS:
                text += ": date unknown, so the deferral cannot be computed"
            reviews.append(ReviewItem(rule.question_code, text, why))
            b.note("screening", f"{label}: yes{when}", "Needs clinician review before the plan is accepted.", source)
    ruled = {rule.question_code for rule in p.contraindications}
    for code, why in b.request.floor.hard_stops:
        answer = profile.screening.get(code)
        if code not in ruled and answer is not None and answer.answer:
            hard_stops.append(f"{code.replace('_', ' ')} (yes): {why} (clinic safety floor).")
            b.note("screening", f"{code}: yes", "Hard stop: no plan can be made.", "Clinic safety floor")
    if earliest > start:
        b.warnings.append(f"The start is deferred from {start:%d %b %Y} to {earliest:%d %b %Y}.")
    return hard_stops, reviews, earliest


def _included_combinations(b: _Builder, p: ProtocolParams, selected: frozenset[int]) -> list[CombinationParams]:
    known = {c.id for c in p.combinations if c.optional}
    unknown = sorted(set(selected) - known)
    if unknown:
        b.warnings.append(f"Ignored combination(s) not offered by {p.name}: {', '.join(map(str, unknown))}.")
    chosen = [c for c in p.combinations if not c.optional or c.id in selected]
    return sorted(chosen, key=lambda c: (c.position, c.id))


def _mn_sessions(b: _Builder, p: ProtocolParams, first_target: dt.date) -> list[ProposedSession]:
    n = p.session_count
    lo, mid, hi = p.interval_min_days, p.interval_target_days, p.interval_max_days
    b.note(
        "interval",
        f"{_plural(n, 'session')} for this profile",
        f"Sessions every {mid} days (at least {lo}, at most {hi}); session 1 window is "
        f"{hi - lo} days wide, the same slack as the interval rule.",
        _source(p),
    )
    sessions = []
    capped = []
    previous: dt.date | None = None
    for k in range(1, n + 1):
        if previous is None:
            earliest, target, latest = first_target, first_target, first_target + _days(hi - lo)
        else:
            earliest, target, latest = previous + _days(lo), previous + _days(mid), previous + _days(hi)
        planned = p.depth_schedule[min(k, len(p.depth_schedule)) - 1] if p.depth_schedule else p.depth_cap_mm
        depth = min(planned, p.depth_cap_mm)
        if depth < planned:
            capped.append((k, planned))
        sessions.append(
            ProposedSession(
                sequence=0,
                kind=MICRONEEDLING,
                title=f"Microneedling {k} of {n}",
                earliest=earliest,
                target=target,
                latest=latest,
                duration_minutes=p.session_minutes,
                buffer_minutes=p.buffer_minutes,
                mn_number=k,
                depth_mm=depth,
            )
        )
        previous = target
    depths = " → ".join(_mm(s.depth_mm) for s in sessions)
    b.note(
        "depth",
        "Needle depth per session",
        f"{depths}, never above the cap of {_mm(p.depth_cap_mm)}.",
        _source(p, p.depth_notes),
    )
    for k, planned in capped:
        b.note(
            "depth",
            f"Session {k}: scheduled depth {_mm(planned)}",
            f"Capped at {_mm(p.depth_cap_mm)}.",
            _source(p, "depth cap"),
        )
    floor = b.request.floor
    fitz = b.request.profile.fitzpatrick
    if fitz in floor.dark_types:
        b.note(
            "depth",
            f"Fitzpatrick type {FITZPATRICK_LABELS[fitz]}: {floor.dark_reason}",
            f"Cap {_mm(min(p.depth_cap_mm, floor.dark_max_depth_mm))} (clinic floor for IV–VI: "
            f"{_mm(floor.dark_max_depth_mm)}), with priming and a PIH check.",
            "Clinic safety floor",
        )
    if p.zones:
        b.note(
            "depth",
            "Per-zone limits",
            "; ".join(f"{z.zone} at most {_mm(z.cap_mm)}" for z in p.zones_capped)
            + " (the schedule is for the cheeks).",
            _source(p, "per-zone depths come from vendors and practice [C]"),
        )
    return sessions


def _fits(lo: dt.date, hi: dt.date, dates: Mapping[int, dt.date], c: CombinationParams, skip: int | None = None) -> str:
    """Why [lo, hi] breaks c's min days from an MN session date ('' when it keeps them all)."""
    for k, t in sorted(dates.items()):
        if k == skip:
            continue
        if lo >= t + _days(c.min_days_after_mn) or hi <= t - _days(c.min_days_before_mn):
            continue
        return (
            f"it would fall within {c.min_days_after_mn} day(s) after or {c.min_days_before_mn} day(s) before "
            f"microneedling session {k} ({t:%d %b %Y})"
        )
    return ""


def _anchors(c: CombinationParams, n: int, placement: str) -> list[int]:
    last = n - 1 if placement == BETWEEN else n
    if not c.after_sessions:
        return list(range(1, last + 1))
    return sorted({k for k in c.after_sessions if 1 <= k <= last})


@dataclass(frozen=True)
class _Placement:
    """Where one combination falls around given MN dates: visits, spans, and the anchors it missed."""

    visits: tuple[tuple[int, ProposedSession], ...] = ()
    spans: tuple[Span, ...] = ()
    omitted: tuple[tuple[int, str], ...] = ()  # (MN session number, why)
    anchors: tuple[int, ...] = ()


def _place(c: CombinationParams, dates: Mapping[int, dt.date], session_count: int) -> _Placement:
    """The placement rules of the module docstring (6.), relative to `dates` (MN number -> day).

    The proposal passes the planned targets; a plan page passes the sessions' current dates
    (booked day, else target; cancelled sessions absent), so both follow one rule.
    """
    if not dates:
        return _Placement()
    if c.placement == BEFORE_FIRST:
        first = min(dates)
        t = dates[first]
        start, end = sorted((t - _days(c.offset_days), t - _days(c.end_offset_days)))
        if problem := _fits(start, end, dates, c):
            return _Placement(omitted=((first, problem),), anchors=(first,))
        return _Placement(spans=(Span(c.id, c.name, c.kind, start, end, first, c.instructions),), anchors=(first,))

    visits: list[tuple[int, ProposedSession]] = []
    spans: list[Span] = []
    omitted: list[tuple[int, str]] = []
    anchors = tuple(_anchors(c, session_count, c.placement))
    for k in anchors:
        t = dates.get(k)
        if t is None:
            continue  # a cancelled session: nothing is placed around it
        if c.placement == AROUND:
            start, end = t - _days(c.offset_days), t + _days(c.end_offset_days)
            if problem := _fits(start, end, dates, c, skip=k):
                omitted.append((k, problem))
                continue
            spans.append(Span(c.id, c.name, c.kind, start, end, k, c.instructions))
            continue
        next_t = dates.get(k + 1)
        if c.placement == BETWEEN:
            if next_t is None:
                omitted.append((k, f"microneedling session {k + 1} is not planned"))
                continue
            lo = t + _days(c.min_days_after_mn)
            hi = next_t - _days(c.min_days_before_mn)
            target = dt.date.fromordinal(t.toordinal() + (next_t.toordinal() - t.toordinal()) // 2)
        else:  # AFTER
            lo = t + _days(max(c.offset_days, c.min_days_after_mn))
            hi = t + _days(max(c.offset_days, c.end_offset_days, c.min_days_after_mn))
            if next_t is not None:
                hi = min(hi, next_t - _days(c.min_days_before_mn))
            target = lo
        if lo > hi:
            omitted.append((k, "there is no day far enough from the microneedling sessions on both sides"))
            continue
        target = min(max(target, lo), hi)
        if problem := _fits(lo, hi, dates, c):
            omitted.append((k, problem))
            continue
        if not c.books_appointment:
            # A home treatment placed "between"/"after" is still a stretch of days, not a visit.
            spans.append(Span(c.id, c.name, c.kind, lo, hi, k, c.instructions))
            continue
        visits.append(
            (
                k,
                ProposedSession(
                    sequence=0,
                    kind=COMBINATION,
                    title=f"{c.name} between sessions {k} and {k + 1}"
                    if c.placement == BETWEEN
                    else f"{c.name} after session {k}",
                    earliest=lo,
                    target=target,
                    latest=hi,
                    duration_minutes=c.duration_minutes,
                    combination_id=c.id,
                    min_days_after_mn=c.min_days_after_mn,
                    min_days_before_mn=c.min_days_before_mn,
                ),
            )
        )
    return _Placement(tuple(visits), tuple(spans), tuple(omitted), anchors)


def _place_combination(
    b: _Builder, p: ProtocolParams, c: CombinationParams, targets: list[dt.date]
) -> tuple[list[ProposedSession], list[Span]]:
    source = _source(p, c.instructions.splitlines()[0] if c.instructions else "")
    why = "included by the protocol" if not c.optional else "chosen"
    placed = _place(c, dict(enumerate(targets, start=1)), len(targets))
    for k, problem in placed.omitted:
        _omit(b, c, k, problem, source)
    if c.placement == BEFORE_FIRST:
        for span in placed.spans:
            b.note(
                "combination",
                f"{c.name} ({why})",
                f"From {span.start:%d %b} to {span.end:%d %b %Y}, before session 1.",
                source,
            )
        return [], list(placed.spans)
    if not placed.anchors:
        b.warnings.append(f"{c.name} left out: none of its sessions {list(c.after_sessions)} exist in this plan.")
        b.note("combination", f"{c.name} ({why})", "Left out: it follows no session of this plan.", source)
        return [], []
    if placed.visits or placed.spans:
        where = {
            BETWEEN: "midway between sessions",
            AFTER: f"{_plural(c.offset_days, 'day')} after session",
            AROUND: f"from {c.offset_days} day(s) before to {c.end_offset_days} day(s) after session",
        }[c.placement]
        numbers = ", ".join(str(k) for k in placed.anchors)
        b.note(
            "combination",
            f"{c.name} ({why})",
            f"Placed {where} {numbers}, at least {c.min_days_after_mn} day(s) after and "
            f"{c.min_days_before_mn} day(s) before any microneedling session.",
            source,
        )
    return [v for _, v in placed.visits], list(placed.spans)


def _omit(b: _Builder, c: CombinationParams, k: int, problem: str, source: str) -> None:
    b.warnings.append(f"{c.name} (session {k}) left out: {problem}.")
    b.note("combination", f"{c.name} around session {k}", f"Left out: {problem}.", source)


def _stale_screening(request: PlanRequest) -> str:
    """Why the client's screen is too old to plan from ('' when it is recent enough or unchecked)."""
    screened_on, limit, today = request.profile.screened_on, request.screening_max_age_days, request.today
    if screened_on is None or limit is None or today is None:
        return ""
    age_days = (today - screened_on).days
    if age_days <= limit:
        return ""
    return (
        f"The newest screening is from {screened_on:%d %b %Y}, {age_days} days ago (the clinic allows "
        f"{limit}): re-screen the client before planning."
    )


def _review_visit(b: _Builder, p: ProtocolParams, last_target: dt.date) -> ProposedSession:
    target = last_target + _days(p.review_after_days)
    b.note(
        "follow_up",
        "Pore gains fade by about 6 months without maintenance",
        f"Review {_plural(p.review_after_days, 'day')} after the last session, on {target:%d %b %Y}, to decide on "
        "maintenance.",
        _source(p, "Er:YAG pore study (Lasers Surg Med 2020): gains faded by 6 months"),
    )
    return ProposedSession(
        sequence=0,
        kind=FOLLOW_UP,
        title="Review and maintenance",
        earliest=target - _days(REVIEW_WINDOW_DAYS),
        target=target,
        latest=target + _days(REVIEW_WINDOW_DAYS),
        duration_minutes=30,
    )


def _follow_up(b: _Builder, p: ProtocolParams, last_target: dt.date) -> ProposedSession:
    target = last_target + _days(p.follow_up_days)
    earliest = max(target - _days(FOLLOW_UP_EARLY_DAYS), last_target)
    latest = target + _days(FOLLOW_UP_LATE_DAYS)
    b.note(
        "follow_up",
        "Results lag the last session",
        f"Final assessment {_plural(p.follow_up_days, 'day')} after the last session, on {target:%d %b %Y} "
        f"(window {earliest:%d %b} – {latest:%d %b %Y})." + (f" {p.maintenance_note}" if p.maintenance_note else ""),
        _source(p, "assessment points in pore studies: 1 and 3 months after the last session"),
    )
    return ProposedSession(
        sequence=0,
        kind=FOLLOW_UP,
        title="Follow-up assessment",
        earliest=earliest,
        target=target,
        latest=latest,
        duration_minutes=30,
    )


def care_schedule(p: ProtocolParams, dates: Mapping[int, dt.date]) -> tuple[CareNoteDue, ...]:
    """Every care note of every MN session, dated from that session's day (MN number -> day)."""
    due = [
        CareNoteDue(k, note.id, note.phase, note.subject, t + _days(note.offset_days), note.offset_days)
        for k, t in dates.items()
        for note in p.care_notes
    ]
    return tuple(sorted(due, key=lambda d: (d.day, d.mn_number, d.offset_days, d.note_id)))


LATE_PRE_CARE = "Pre-care already due before today"


def late_pre_care(
    care: Iterable[CareNoteDue], today: dt.date, done: frozenset[tuple[int, int]] = frozenset()
) -> tuple[CareNoteDue, ...]:
    """Pre-care notes whose day is before today, except those in `done` ((MN number, note id) pairs
    already delivered in time, or of sessions that took place)."""
    return tuple(c for c in care if c.phase == "pre" and c.day < today and (c.mn_number, c.note_id) not in done)


def late_pre_care_warning(late: Iterable[CareNoteDue]) -> str:
    return (
        f"{LATE_PRE_CARE}: "
        + "; ".join(f"{c.subject} (session {c.mn_number}, {c.day:%d %b})" for c in late)
        + ". Tell the client today, or choose a later start."
    )


@dataclass(frozen=True)
class PlanLayout:
    """A plan's home spans and care notes placed around its sessions' current dates."""

    spans: tuple[Span, ...]
    care_schedule: tuple[CareNoteDue, ...]
    # Spans that no longer fit where the sessions now are (the proposal would have left them out).
    problems: tuple[str, ...] = ()


def plan_layout(
    protocol: ProtocolParams, selected_combinations: Iterable[int], mn_dates: Mapping[int, dt.date]
) -> PlanLayout:
    """Spans and care notes for the MN sessions as they are now (MN number -> booked day, else
    target; cancelled sessions left out), by the same rules propose_plan used for the targets.

    Combination visits are not placed here: they are sessions of their own with their own dates.
    """
    selected = set(selected_combinations)
    spans: list[Span] = []
    problems: list[str] = []
    for c in sorted(protocol.combinations, key=lambda c: (c.position, c.id)):
        if c.optional and c.id not in selected:
            continue
        if c.books_appointment and c.placement in (BETWEEN, AFTER):
            continue
        placed = _place(c, mn_dates, protocol.session_count)
        spans.extend(placed.spans)
        problems.extend(f"{c.name} (session {k}) no longer fits: {why}." for k, why in placed.omitted)
    spans.sort(key=lambda s: (s.start, s.combination_id, s.anchor_session))
    return PlanLayout(tuple(spans), care_schedule(protocol, mn_dates), tuple(problems))


def pre_care_lead_days(protocol: ProtocolParams) -> int:
    """How many days before session 1 its earliest pre-care note is due (0 without pre-care)."""
    return max((-n.offset_days for n in protocol.care_notes_for("pre")), default=0)


@dataclass(frozen=True)
class StartSuggestion:
    start: dt.date
    reason: str = ""  # empty when starting today already leaves room for the pre-care


def suggest_start(request: PlanRequest) -> StartSuggestion:
    """The first start from request.today that leaves time for the whole pre-care schedule.

    Everything in a plan moves with its earliest start (a deferral only ever moves it
    later), so the shift that brings session 1's earliest pre-care note to today is
    added to the earliest start the proposal for today found.
    """
    today = request.today
    if today is None:
        raise ValueError("suggest_start needs request.today.")
    proposal = propose_plan(replace(request, requested_start=today))
    pre = [c.day for c in proposal.care_schedule if c.phase == "pre"]
    if not proposal.ok or not pre or min(pre) >= today:
        return StartSuggestion(today)
    start = proposal.earliest_start + (today - min(pre))
    lead = pre_care_lead_days(proposal.protocol)
    return StartSuggestion(start, f"Starts {start.day} {start:%b} so the {lead}-day pre-care can be followed.")


def _renumber(s: ProposedSession, sequence: int) -> ProposedSession:
    return replace(s, sequence=sequence)
