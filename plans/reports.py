"""The protocol outcomes report and the plan preview's evidence line: read-only selectors.

Every figure is counted by the database: one query per kind of figure (plan outcomes, sessions,
adverse events; sessions and events counted per plan first), each counting the plans per protocol,
cohort and measured values in one GROUP BY (`_counted`), so the page runs the same few queries
whatever the number of plans. Those counts, a few thousand rows at most, are then added up into
every group of every split (`_tally`): nothing loops over plans in Python. Medians are read from
the count of each value in a group.

Groups are the client as the plan was made for them (TreatmentPlan.cohort_*, plans/cohorts.py).
A plan's start is its requested start. Pore grade change is the assessment grade minus the
baseline grade (negative: fewer visible pores). The small-group rule lives in `Figure`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from plans.aggregates import Percentile
from plans.cohorts import AGE_BANDS, FITZPATRICK_GROUPS, Cohort, age_band, fitzpatrick_group
from plans.models import (
    AdverseEvent,
    AdverseEventType,
    Gais,
    Oiliness,
    OutcomeQuestion,
    PlanSession,
    PlanStatus,
    Protocol,
    ScoreMoment,
    SessionKind,
    SessionStatus,
    Severity,
    TreatmentPlan,
)

# --- The small-group rule -----------------------------------------------------------------------

# Below this many plans a share or a median says more about the few clients than about the
# protocol (and can point at one person): the figure is "too few to say". The only place for it.
MIN_GROUP = 5
TOO_FEW = "too few to say"


@dataclass(frozen=True)
class Figure:
    """A share, mean or median computed from `n` plans; shown only when n >= MIN_GROUP.

    kind: "share" (value 0..1, `count` of `n`), "mean", or "median" (with its quartiles)."""

    kind: str
    n: int
    value: float | None
    count: int | None = None
    low: float | None = None  # first quartile (median only)
    high: float | None = None  # third quartile (median only)
    total: int | None = None  # a share's denominator when it is not n (sessions, not plans)
    signed: bool = False  # a change (shown with its sign), not a level such as satisfaction

    @property
    def shown(self) -> bool:
        return self.n >= MIN_GROUP and self.value is not None

    @property
    def chart_value(self) -> float | None:
        """What a chart may plot: nothing for a small group (a bar is a figure too)."""
        if not self.shown:
            return None
        return round(self.value * 100, 1) if self.kind == "share" else round(self.value, 2)

    def __str__(self) -> str:
        if self.n < MIN_GROUP:
            return TOO_FEW
        if self.value is None:
            return "–"
        if self.kind == "share":
            return f"{self.value * 100:.0f}% ({self.count} of {self.n if self.total is None else self.total})"
        if self.kind == "median":
            fmt = _signed if self.signed else _plain
            return f"{fmt(self.value)} (IQR {fmt(self.low)} to {fmt(self.high)})"
        return f"{self.value:.1f}"

    @property
    def short(self) -> str:
        """The figure without its counts or spread (chart tables, the evidence line)."""
        if not self.shown:
            return TOO_FEW if self.n < MIN_GROUP else "–"
        if self.kind == "share":
            return f"{self.value * 100:.0f}%"
        if self.kind == "median":
            return _signed(self.value) if self.signed else _plain(self.value)
        return f"{self.value:.1f}"


def _signed(value: float | None) -> str:
    if value is None:
        return "–"
    text = f"{value:+.1f}".replace("-", "−")
    return "0.0" if text in ("+0.0", "−0.0") else text


def _plain(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def share(count: int | None, n: int) -> Figure:
    return Figure("share", n, (count or 0) / n if n else None, count=count or 0)


def median(n: int, mid: float | None, low: float | None, high: float | None, *, signed: bool = False) -> Figure:
    return Figure("median", n, mid, low=low, high=high, signed=signed)


# --- Groups, from the one definition in plans/cohorts.py ------------------------------------------


def _age_q(column: str, low: int | None, high: int | None) -> Q:
    q = Q()
    if low is not None:
        q &= Q(**{f"{column}__gte": low})
    if high is not None:
        q &= Q(**{f"{column}__lt": high})
    return q


@dataclass(frozen=True)
class Split:
    code: str
    title: str
    groups: tuple[tuple[str, str], ...]  # (value, label)


SPLITS: tuple[Split, ...] = (
    Split("all", "All clients", (("all", "All clients"),)),
    Split("fitzpatrick", "Fitzpatrick group", tuple((g[0], f"Fitzpatrick {g[0]}") for g in FITZPATRICK_GROUPS)),
    Split("age", "Age band (at the plan's start)", tuple((b[0], b[0]) for b in AGE_BANDS)),
    Split("oiliness", "Oiliness", tuple(Oiliness.choices)),
    Split("severity", "Pore severity", tuple(Severity.choices)),
)

# What the database groups a plan by: its protocol and the client as the plan was made for them.
_COHORT = ("protocol_id", "cohort_fitzpatrick", "cohort_age", "cohort_oiliness", "cohort_pore_concern")


def _groups_of(r: dict) -> tuple[tuple[str, str], ...]:
    """A plan's group in each split (SPLITS' order), from its cohort columns."""
    return (
        ("all", "all"),
        ("fitzpatrick", fitzpatrick_group(r["cohort_fitzpatrick"])[0]),
        ("age", age_band(r["cohort_age"])[0]),
        ("oiliness", r["cohort_oiliness"]),
        ("severity", r["cohort_pore_concern"]),
    )


# (split, group, protocol id) -> how many plans (or plan parts) hold each combination of values.
Tallies = dict[tuple[str, str, int], Counter]


def _tally(rows, measured: tuple[str, ...]) -> Tallies:
    """Rows the database has already counted (`n` plans for each protocol, cohort and combination of
    the `measured` columns) rolled up into every group of every split.

    Two stages, because one is slow: the database groups 125,000 plans by a few small raw columns
    into a couple of thousand rows in one hash (a grade change, a 0-10 answer, a status: small
    integers and codes), and those rows, not the plans, are added up here into the five splits.
    GROUPING SETS over the plans kept five hash tables of CASE-computed keys, 450 ms at the
    benchmark's full size; this is one plain GROUP BY, the same on SQLite and PostgreSQL."""
    tallies: Tallies = defaultdict(Counter)
    for r in rows:
        values = tuple(r[c] for c in measured)
        for split, key in _groups_of(r):
            tallies[(split, key, r["protocol_id"])][values] += r["n"]
    return tallies


def _counted(qs: QuerySet) -> list[dict]:
    """`qs` (a `.values()` of _COHORT and measured columns) counted per distinct row, by the database."""
    return list(qs.annotate(n=Count("*")).order_by())


# --- Filters --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFilters:
    start_from: dt.date | None = None
    start_to: dt.date | None = None
    practitioner_id: int | None = None


def plans_in_scope(filters: ReportFilters) -> QuerySet[TreatmentPlan]:
    """Plans started in the date range; with a practitioner, those with a session they were given."""
    plans = TreatmentPlan.objects.order_by()
    if filters.start_from:
        plans = plans.filter(requested_start__gte=filters.start_from)
    if filters.start_to:
        plans = plans.filter(requested_start__lte=filters.start_to)
    if filters.practitioner_id:
        plans = plans.filter(
            Exists(PlanSession.objects.filter(plan=OuterRef("pk"), practitioner_id=filters.practitioner_id))
        )
    return plans


def _with_outcomes(plans: QuerySet[TreatmentPlan], satisfaction_id: int | None = None) -> QuerySet[TreatmentPlan]:
    """Each plan with its outcome (change in pore grade, GAIS) and, given the satisfaction
    question's id, the client's answer at the assessment, joined: one row each, as the database
    allows one questionnaire per plan and moment, and one answer per question."""
    # The plan's own outcome columns (kept from its scores by services/outcomes.summarise_outcomes).
    plans = plans.annotate(change=F("outcome_change"), gais=F("outcome_gais"))
    if satisfaction_id is None:
        return plans
    return (
        plans.annotate(
            asked=FilteredRelation(
                "questionnaires",
                condition=Q(questionnaires__moment=ScoreMoment.ASSESSMENT, questionnaires__submitted_at__isnull=False),
            ),
        )
        .annotate(
            # By id: a join condition can reach neither the question's code nor a subquery.
            sat=FilteredRelation("asked__answers", condition=Q(asked__answers__question_id=satisfaction_id)),
        )
        .annotate(satisfaction=F("sat__value"))
    )


SATISFACTION = "satisfaction"  # the OutcomeQuestion code the report reads (0-10)
_IMPROVED = (Gais.VERY_MUCH_IMPROVED, Gais.MUCH_IMPROVED, Gais.IMPROVED)


def _compiled(qs: QuerySet) -> tuple[str, tuple]:
    return qs.query.get_compiler(using=qs.db).as_sql()


def _counted_sql(sql: str, params: tuple, columns: tuple[str, ...]) -> list[dict]:
    """`_counted` for rows given as SQL (a join the ORM cannot write); `columns` are its names."""
    names = ", ".join(columns)
    with connection.cursor() as cursor:
        # Only our own column names are spliced in; every value travels as a parameter.
        cursor.execute(f"SELECT {names}, COUNT(*) AS n FROM ({sql}) AS facts GROUP BY {names}", params)  # noqa: S608
        return [dict(zip((*columns, "n"), values, strict=True)) for values in cursor.fetchall()]


def _percentile(counts: list[tuple[float, int]], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont (plans/aggregates.py) over values given as (value, how many)."""
    ordered = sorted(counts)
    total = sum(n for _v, n in ordered)
    if not total:
        return None
    position = fraction * (total - 1)
    low, high = math.floor(position), math.ceil(position)

    def at(rank: int) -> float:
        seen = 0
        for value, n in ordered:
            seen += n
            if rank < seen:
                return value
        raise AssertionError("rank beyond the counts")

    return at(low) + (at(high) - at(low)) * (position - low)


# --- The report -----------------------------------------------------------------------------------


@dataclass
class Row:
    """One protocol in one group of one split."""

    protocol_id: int
    protocol: str
    group: str
    started: int = 0
    completed: int = 0
    in_progress: int = 0
    dropped_out: int = 0
    sessions_per_plan: Figure = field(default_factory=lambda: Figure("mean", 0, None))
    adherence: Figure = field(default_factory=lambda: share(0, 0))
    pore_change: Figure = field(default_factory=lambda: median(0, None, None, None))
    gais: dict[int, Figure] = field(default_factory=dict)
    improved: Figure = field(default_factory=lambda: share(0, 0))
    satisfaction: Figure = field(default_factory=lambda: median(0, None, None, None))
    adverse: dict[str, Figure] = field(default_factory=dict)

    @property
    def pih(self) -> Figure:
        return self.adverse[AdverseEventType.PIH]

    @property
    def other_adverse(self) -> list[str]:
        """The other types that happened, each with its rate; one "too few to say" for a small group."""
        figures = [(label, self.adverse[code]) for code, label in ADVERSE_TYPES if code != AdverseEventType.PIH]
        if not all(f.shown for _label, f in figures):
            return [str(figures[0][1])]
        return [f"{label}: {f}" for label, f in figures if f.count] or ["none"]


@dataclass
class SplitTable:
    split: Split
    rows: list[Row]


@dataclass
class OutcomesReport:
    filters: ReportFilters
    tables: list[SplitTable]
    adverse_types: tuple[tuple[str, str], ...]

    def table(self, code: str) -> SplitTable:
        return next(t for t in self.tables if t.split.code == code)


# PIH first: the event the report exists to watch in darker skin.
ADVERSE_TYPES = tuple(sorted(AdverseEventType.choices, key=lambda c: c[0] != AdverseEventType.PIH))


def outcomes_report(filters: ReportFilters) -> OutcomesReport:
    """The report's figures in five queries (the satisfaction question, plans, sessions, adverse
    events, the protocols' names), whatever the data."""
    plans = plans_in_scope(filters)
    # -1 when a clinic deleted the question: no answer matches, satisfaction is "too few to say".
    satisfaction_id = OutcomeQuestion.objects.filter(code=SATISFACTION).values_list("pk", flat=True).first() or -1
    outcome = ("status", "change", "gais", "satisfaction")
    outcomes = _tally(_counted(_with_outcomes(plans, satisfaction_id).values(*_COHORT, *outcome)), outcome)
    zone = timezone.get_current_timezone()
    # Sessions are counted per plan first (one pass over the completed treatments, on their
    # partial index), then plans are counted per cohort and those per-plan counts. The join to the
    # plans in scope (`_joined`) leaves out the others: filtering here too would read the plans twice.
    per_plan = (
        PlanSession.objects.order_by()
        .filter(kind=SessionKind.MICRONEEDLING, status=SessionStatus.COMPLETED)
        .annotate(day=TruncDate("starts_at", tzinfo=zone))
        .values("plan_id")
        .annotate(
            # plan_id, not pk: the index holds it, so the scan never visits the table.
            done=Count("plan_id"),
            in_window=Count("plan_id", filter=Q(day__gte=F("earliest"), day__lte=F("latest"))),
        )
    )
    sessions = _tally(_counted_sql(*_joined(plans, per_plan, ("done", "in_window"))), ("done", "in_window"))
    # A plan counts once per type of event it had (the event's own plan column: no join to the sessions).
    had = AdverseEvent.objects.order_by().filter(plan__isnull=False).values("plan_id", event_type=F("type")).distinct()
    events = _tally(_counted_sql(*_joined(plans, had, ("event_type",))), ("event_type",))
    # Named after the counting: grouping 125,000 plans by a wide text column is what made
    # PostgreSQL sort them on disk instead of hashing them.
    names = dict(Protocol.objects.filter(pk__in={p for _s, _k, p in outcomes}).values_list("pk", "name"))
    return _assemble(filters, names, outcomes, sessions, events)


def _joined(plans: QuerySet[TreatmentPlan], per_plan: QuerySet, columns: tuple[str, ...]) -> tuple[str, tuple, tuple]:
    """Rows of `per_plan` (keyed by plan_id) with their plan's protocol and cohort, as SQL, and the
    rows' column names."""
    keys_sql, keys_params = _compiled(plans.values("id", *_COHORT))
    part_sql, part_params = _compiled(per_plan)
    picked = ", ".join(f"per_plan.{c}" for c in columns)
    names = ", ".join(f"plan_keys.{c}" for c in _COHORT)
    return (
        f"SELECT {names}, {picked} FROM ({keys_sql}) AS plan_keys "  # noqa: S608 (names are ours)
        f"JOIN ({part_sql}) AS per_plan ON per_plan.plan_id = plan_keys.id",
        (*keys_params, *part_params),
        (*_COHORT, *columns),
    )


def _values(tally: Counter, at: int) -> list[tuple]:
    """How many plans hold each value of the `at`-th measured column (None left out)."""
    found: Counter = Counter()
    for values, n in tally.items():
        if values[at] is not None:
            found[values[at]] += n
    return list(found.items())


def _assemble(filters: ReportFilters, names: dict[int, str], outcomes: Tallies, sessions: Tallies, events: Tallies):
    """Tallies (a few rows per protocol and group) into the report's tables."""
    rows: dict[tuple[str, str, int], Row] = {}

    def spread(counts: list[tuple], *, signed: bool = False) -> Figure:
        n = sum(count for _value, count in counts)
        return median(n, *(_percentile(counts, f) for f in (0.5, 0.25, 0.75)), signed=signed)

    for (split, key, protocol_id), tally in outcomes.items():
        status = dict(_values(tally, 0))
        gais = dict(_values(tally, 2))
        rated = sum(gais.values())
        started = sum(tally.values())
        rows[(split, key, protocol_id)] = Row(
            protocol_id=protocol_id,
            protocol=names[protocol_id],
            group=key,
            started=started,
            completed=status.get(PlanStatus.COMPLETED, 0),
            in_progress=status.get(PlanStatus.ACTIVE, 0),
            dropped_out=status.get(PlanStatus.CANCELLED, 0),
            sessions_per_plan=Figure("mean", started, 0.0 if started else None),
            pore_change=spread(_values(tally, 1), signed=True),
            gais={g.value: share(gais.get(g.value, 0), rated) for g in Gais},
            improved=share(sum(gais.get(g.value, 0) for g in _IMPROVED), rated),
            satisfaction=spread(_values(tally, 3)),
            adverse={code: share(0, started) for code, _ in ADVERSE_TYPES},
        )
    for group, tally in sessions.items():
        row = rows.get(group)
        if row is None:
            continue
        done = sum(d * n for (d, _w), n in tally.items())
        in_window = sum(w * n for (_d, w), n in tally.items())
        row.sessions_per_plan = Figure("mean", row.started, done / row.started)
        row.adherence = Figure("share", sum(tally.values()), in_window / done, count=in_window, total=done)
    for group, tally in events.items():
        row = rows.get(group)
        if row is not None:
            for (event_type,), plans_with in tally.items():
                row.adverse[event_type] = share(plans_with, row.started)
    tables = []
    for split in SPLITS:
        order = {value: i for i, (value, _label) in enumerate(split.groups)}
        labels = dict(split.groups)
        in_split = [row for (code, _key, _p), row in rows.items() if code == split.code]
        in_split.sort(key=lambda row: (row.protocol, order.get(row.group, len(order))))
        for row in in_split:
            row.group = labels.get(row.group, row.group)
        tables.append(SplitTable(split, in_split))
    return OutcomesReport(filters=filters, tables=tables, adverse_types=ADVERSE_TYPES)


# --- The evidence line in the plan preview ----------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """How clients like this one (same protocol, Fitzpatrick group, age band, pore concern) did here."""

    protocol: str
    cohort: Cohort
    started: int
    pore_change: Figure
    improved: Figure
    adverse: Figure
    pih: int

    @property
    def group(self) -> str:
        c = self.cohort
        return f"Fitzpatrick {c.fitzpatrick_group}, age {c.age_band}, {c.pore_concern} pores"

    @property
    def line(self) -> str:
        if self.pore_change.n == 0:
            return "No outcomes recorded yet for clients like this."
        n = self.pore_change.n
        head = f"{n} client{'s' if n != 1 else ''} like this with outcomes recorded"
        if n < MIN_GROUP:
            return f"{head}: {TOO_FEW}."
        return (
            f"{head}: median change in pore grade {self.pore_change} · "
            f"GAIS improved {self.improved} · adverse events in {self.adverse} of plans started"
            + (f" (PIH {self.pih})" if self.pih else "")
            + "."
        )


def evidence_for(*, protocol_id: int, protocol_name: str, cohort: Cohort) -> Evidence:
    """One aggregate query over the clinic's plans for this protocol and the client's group (the
    plan_cohort index: protocol and pore concern equal, Fitzpatrick and age in a range)."""
    _label, fitz_low, fitz_high = fitzpatrick_group(cohort.fitzpatrick)
    _band, age_low, age_high = age_band(cohort.age)
    plans = TreatmentPlan.objects.order_by().filter(
        _age_q("cohort_age", age_low, age_high),
        protocol_id=protocol_id,
        cohort_pore_concern=cohort.pore_concern,
        cohort_fitzpatrick__gte=fitz_low,
        cohort_fitzpatrick__lte=fitz_high,
    )
    # The plans that had an event, as one uncorrelated IN (...): PostgreSQL hashes it once. A
    # correlated EXISTS per plan scanned the events again for every plan in the group (6 s, not
    # milliseconds, at the benchmark's 125,000 plans).
    # The event's own plan column (index adverse_event_plan_type): no join to the sessions.
    had = AdverseEvent.objects.filter(plan__isnull=False).values("plan_id")
    r = _with_outcomes(plans).aggregate(
        started=Count("pk"),
        scored=Count("change"),
        change_mid=Percentile("change", 0.5),
        change_low=Percentile("change", 0.25),
        change_high=Percentile("change", 0.75),
        gais_n=Count("gais"),
        improved=Count("pk", filter=Q(gais__in=_IMPROVED)),
        adverse=Count("pk", filter=Q(pk__in=had)),
        pih=Count("pk", filter=Q(pk__in=had.filter(type=AdverseEventType.PIH))),
    )
    return Evidence(
        protocol=protocol_name,
        cohort=cohort,
        started=r["started"],
        pore_change=median(r["scored"], r["change_mid"], r["change_low"], r["change_high"], signed=True),
        improved=share(r["improved"], r["gais_n"]),
        adverse=share(r["adverse"], r["started"]),
        pih=r["pih"],
    )


# --- Charts and CSV: both read the same Figures as the page's tables ------------------------------


def chart_data(report: OutcomesReport) -> list[dict]:
    """Each chart's series (a small group plots nothing: None) and the table of its numbers shown
    beside it (the same figures as text, "too few to say" included)."""
    overall = report.table("all").rows
    protocols = [row.protocol for row in overall]
    by_fitz = {(row.protocol, row.group): row for row in report.table("fitzpatrick").rows}
    fitz_labels = [label for _value, label in SPLITS[1].groups]
    return [
        {
            "id": "chart-pore-change",
            "title": "Median change in pore grade (assessment − baseline; below 0 is better)",
            "kind": "bar",
            "labels": protocols,
            "datasets": [{"label": "Median change", "data": [row.pore_change.chart_value for row in overall]}],
            "head": ["Protocol", "Clients scored", "Median (IQR)"],
            "rows": [[row.protocol, row.pore_change.n, str(row.pore_change)] for row in overall],
        },
        {
            "id": "chart-gais",
            "title": "GAIS at the assessment (% of clients rated)",
            "kind": "stacked",
            "labels": protocols,
            "datasets": [{"label": g.label, "data": [row.gais[g.value].chart_value for row in overall]} for g in Gais],
            "head": ["Protocol", "Rated", *(g.label for g in Gais)],
            "rows": [[row.protocol, row.improved.n, *(row.gais[g.value].short for g in Gais)] for row in overall],
        },
        {
            "id": "chart-pih",
            "title": "PIH by Fitzpatrick group (% of plans started)",
            "kind": "bar",
            "labels": protocols,
            "datasets": [
                {
                    "label": label,
                    "data": [
                        by_fitz[(p, label)].adverse[AdverseEventType.PIH].chart_value if (p, label) in by_fitz else None
                        for p in protocols
                    ],
                }
                for label in fitz_labels
            ],
            "head": ["Protocol", *fitz_labels],
            "rows": [
                [
                    p,
                    *(
                        str(by_fitz[(p, label)].adverse[AdverseEventType.PIH]) if (p, label) in by_fitz else "–"
                        for label in fitz_labels
                    ),
                ]
                for p in protocols
            ],
        },
    ]


CSV_HEAD = [
    "Split",
    "Group",
    "Protocol",
    "Started",
    "Completed",
    "In progress",
    "Dropped out",
    "Sessions per plan",
    "Sessions in the interval window",
    "Clients scored",
    "Median change in pore grade (IQR)",
    *(f"GAIS {g.label}" for g in Gais),
    "GAIS improved",
    "Satisfaction 0-10, median (IQR)",
]


def csv_rows(report: OutcomesReport) -> list[list]:
    """The report as CSV rows: every split's table, each figure as the page shows it."""
    head = [*CSV_HEAD, *(f"Adverse events: {label}" for _code, label in report.adverse_types)]
    rows: list[list] = [head]
    for table in report.tables:
        for row in table.rows:
            rows.append(
                [
                    table.split.title,
                    row.group,
                    row.protocol,
                    row.started,
                    row.completed,
                    row.in_progress,
                    row.dropped_out,
                    str(row.sessions_per_plan),
                    str(row.adherence),
                    row.pore_change.n,
                    str(row.pore_change),
                    *(str(row.gais[g.value]) for g in Gais),
                    str(row.improved),
                    str(row.satisfaction),
                    *(str(row.adverse[code]) for code, _label in report.adverse_types),
                ]
            )
    return rows


# A spreadsheet runs a cell starting with one of these as a formula (CSV injection): a protocol
# name typed in the admin as "=HYPERLINK(...)" must arrive as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text
