"""The protocol outcomes report and the plan preview's evidence line: read-only selectors.

Every figure is an aggregate computed by the database: one query per kind of figure (plan
outcomes, sessions, adverse events), each over one row a plan (sessions and events counted per
plan first) grouped by every split at once (GROUPING SETS on PostgreSQL, a UNION ALL of GROUP BYs
on SQLite; `_by_split`), so the page runs the same few queries whatever the number of plans, and
nothing loops over plans in Python. Medians are read from the count of each value in a group.

Groups are the client as the plan was made for them (TreatmentPlan.cohort_*, plans/cohorts.py).
A plan's start is its requested start. Pore grade change is the assessment grade minus the
baseline grade (negative: fewer visible pores). The small-group rule lives in `Figure`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    FilteredRelation,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
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


# --- Groups in SQL, from the one definition in plans/cohorts.py -----------------------------------


def fitzpatrick_group_sql(column: str = "cohort_fitzpatrick") -> Case:
    return Case(
        *(
            When(**{f"{column}__gte": lo, f"{column}__lte": hi}, then=Value(label))
            for label, lo, hi in FITZPATRICK_GROUPS
        ),
        output_field=CharField(),
    )


def _age_q(column: str, low: int | None, high: int | None) -> Q:
    q = Q()
    if low is not None:
        q &= Q(**{f"{column}__gte": low})
    if high is not None:
        q &= Q(**{f"{column}__lt": high})
    return q


def age_band_sql(column: str = "cohort_age") -> Case:
    return Case(
        *(When(_age_q(column, low, high), then=Value(label)) for label, low, high in AGE_BANDS),
        output_field=CharField(),
    )


@dataclass(frozen=True)
class Split:
    code: str
    title: str
    groups: tuple[tuple[str, str], ...]  # (value in SQL, label)


SPLITS: tuple[Split, ...] = (
    Split("all", "All clients", (("all", "All clients"),)),
    Split("fitzpatrick", "Fitzpatrick group", tuple((g[0], f"Fitzpatrick {g[0]}") for g in FITZPATRICK_GROUPS)),
    Split("age", "Age band (at the plan's start)", tuple((b[0], b[0]) for b in AGE_BANDS)),
    Split("oiliness", "Oiliness", tuple(Oiliness.choices)),
    Split("severity", "Pore severity", tuple(Severity.choices)),
)


def _split_key(code: str, prefix: str = "") -> Case | F | Value:
    """The SQL value of a plan's group in split `code`; `prefix` reaches the plan from another model."""
    if code == "all":
        return Value("all", output_field=CharField())
    if code == "fitzpatrick":
        return fitzpatrick_group_sql(f"{prefix}cohort_fitzpatrick")
    if code == "age":
        return age_band_sql(f"{prefix}cohort_age")
    return F(f"{prefix}{'cohort_oiliness' if code == 'oiliness' else 'cohort_pore_concern'}")


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


# The report's grouping columns of a plan, one per split but "all" (which groups by protocol only).
_KEYS = ("fitzpatrick", "age", "oiliness", "severity")


def _plan_keys() -> dict:
    """The plan's group in each split, as SQL (named by split code), for `.values()`."""
    return {code: _split_key(code) for code in _KEYS}


def _compiled(qs: QuerySet) -> tuple[str, tuple]:
    return qs.query.get_compiler(using=qs.db).as_sql()


def _by_split(
    sql: str, params: tuple, measures: str, *, extra: tuple[str, ...] = (), spread: tuple[str, ...] = ()
) -> list[dict]:
    """`measures` (SQL aggregates over `sql`'s rows, one a plan or a plan's part: sums and counts
    only) per protocol in each group of each split, as rows carrying `split` and `key`; with
    `counts[column]`, for each column in `spread`, how many rows hold each of its values (NULL left
    out), from which `_percentile` reads the medians.

    PostgreSQL groups by every split in one scan with GROUPING SETS (the UNION ALL it replaces read
    the plans and sessions five times over). The medians come from the counts of each value rather
    than percentile_cont, which sorts every group's values once per quartile and forces a sort of
    all the rows per grouping set: counts hash in one pass. Each split is grouped by its key and
    the spread columns together (small integers: a grade change, a 0-10 answer), so the database
    keeps one hash table per split, and the few rows per group are added up here; that is why the
    measures must be sums or counts. GROUPING() says which split a row belongs to, so a NULL group
    is told from the "all" row. SQLite has no GROUPING SETS: each split is its own GROUP BY, glued
    with UNION ALL."""
    base = ("protocol_id", *extra)
    columns = (*_KEYS, *spread)
    sets = [(*base, *keys, *spread) for keys in ((), *((k,) for k in _KEYS))]
    head = ", ".join(base)
    # Only our own names and aggregates are spliced in; every value travels as a parameter.
    if connection.vendor == "postgresql":
        grouped_sets = ", ".join(f"({', '.join(s)})" for s in sets)
        query = (
            f"SELECT {head}, {', '.join(columns)}, GROUPING({', '.join(columns)}) AS grouping, "  # noqa: S608
            f"COUNT(*) AS n, {measures} FROM ({sql}) AS facts GROUP BY GROUPING SETS ({grouped_sets})"
        )
        all_params = params
    else:
        parts = []
        for grouped in sets:
            picked = ", ".join(c if c in grouped else f"NULL AS {c}" for c in columns)
            grouping = sum(1 << (len(columns) - 1 - i) for i, c in enumerate(columns) if c not in grouped)
            parts.append(
                f"SELECT {head}, {picked}, {grouping} AS grouping, COUNT(*) AS n, {measures} "  # noqa: S608
                f"FROM ({sql}) AS facts GROUP BY {', '.join(grouped)}"
            )
        query = " UNION ALL ".join(parts)
        all_params = params * len(sets)
    # The protocol's name joins the few aggregated rows, not the plans: grouping by a wide text
    # column made PostgreSQL sort every plan on disk instead of hashing it.
    protocols = connection.ops.quote_name(Protocol._meta.db_table)
    query = (
        f"SELECT grouped.*, protocol.name AS protocol_name FROM ({query}) AS grouped "  # noqa: S608
        f"JOIN {protocols} AS protocol ON protocol.id = grouped.protocol_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, all_params)
        names = [c[0] for c in cursor.description]
        fetched = cursor.fetchall()
    merged: dict[tuple, dict] = {}
    for values in fetched:
        # PostgreSQL sums integers as numeric: every sum here is a count, so back to int.
        r = {c: int(v) if isinstance(v, Decimal) else v for c, v in zip(names, values, strict=True)}
        # GROUPING(a, b, ...): a bit per column, set when the row is not grouped by it (a first).
        grouped = [c for i, c in enumerate(columns) if not r["grouping"] >> (len(columns) - 1 - i) & 1]
        key = next((c for c in grouped if c in _KEYS), None)
        split, value = (key, r[key]) if key else ("all", "all")
        group = (split, value, *(r[c] for c in base))
        row = merged.get(group)
        if row is None:
            row = merged[group] = {**r, "split": split, "key": value, "counts": {c: {} for c in spread}}
        else:
            for name in names:
                if name not in (*base, *columns, "grouping", "protocol_name"):
                    row[name] += r[name]
        for c in spread:
            if r[c] is not None:
                row["counts"][c][r[c]] = row["counts"][c].get(r[c], 0) + r["n"]
    for row in merged.values():
        row["counts"] = {c: list(found.items()) for c, found in row["counts"].items()}
    return list(merged.values())


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


def _flag(condition: Q) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


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
    """The report's figures in four queries (the satisfaction question, then plans, sessions and
    adverse events), whatever the data."""
    plans = plans_in_scope(filters)
    # -1 when a clinic deleted the question: no answer matches, satisfaction is "too few to say".
    satisfaction_id = OutcomeQuestion.objects.filter(code=SATISFACTION).values_list("pk", flat=True).first() or -1
    # One row a plan: its groups, its state and its outcome, aggregated below by split.
    facts = _with_outcomes(plans, satisfaction_id).values(
        "id",
        "protocol_id",
        "change",
        "gais",
        "satisfaction",
        **_plan_keys(),
        completed=_flag(Q(status=PlanStatus.COMPLETED)),
        in_progress=_flag(Q(status=PlanStatus.ACTIVE)),
        dropped_out=_flag(Q(status=PlanStatus.CANCELLED)),
        **{f"gais_{g.value}": _flag(Q(gais=g.value)) for g in Gais},
    )
    outcome_rows = _by_split(
        *_compiled(facts),
        "SUM(completed) AS completed, SUM(in_progress) AS in_progress, SUM(dropped_out) AS dropped_out, "
        "COUNT(gais) AS gais_n, " + ", ".join(f"SUM(gais_{g.value}) AS gais_{g.value}" for g in Gais),
        spread=("change", "satisfaction"),
    )
    zone = timezone.get_current_timezone()
    # Sessions are counted per plan first (one pass over the completed treatments, on their
    # partial index), then those per-plan counts are grouped by split. The join to the plans in
    # scope (`_joined`) leaves out the others: filtering here too would read the plans twice.
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
    session_rows = _by_split(
        *_joined(plans, per_plan, ("done", "in_window")),
        "SUM(done) AS done, COUNT(*) AS plans_treated, SUM(in_window) AS in_window",
    )
    # A plan counts once per type of event it had.
    had = (
        AdverseEvent.objects.order_by()
        .filter(session__isnull=False)
        .values(plan_id=F("session__plan_id"), event_type=F("type"))
        .distinct()
    )
    event_rows = _by_split(*_joined(plans, had, ("event_type",)), "COUNT(*) AS plans_with", extra=("event_type",))
    return _assemble(filters, outcome_rows, session_rows, event_rows)


def _joined(plans: QuerySet[TreatmentPlan], per_plan: QuerySet, columns: tuple[str, ...]) -> tuple[str, tuple]:
    """Rows of `per_plan` (keyed by plan_id) with their plan's protocol and groups, as SQL."""
    keys_sql, keys_params = _compiled(plans.values("id", "protocol_id", **_plan_keys()))
    part_sql, part_params = _compiled(per_plan)
    picked = ", ".join(f"per_plan.{c}" for c in columns)
    names = ", ".join(f"plan_keys.{c}" for c in ("protocol_id", *_KEYS))
    return (
        f"SELECT {names}, {picked} FROM ({keys_sql}) AS plan_keys "  # noqa: S608 (names are ours)
        f"JOIN ({part_sql}) AS per_plan ON per_plan.plan_id = plan_keys.id",
        (*keys_params, *part_params),
    )


def _assemble(filters: ReportFilters, outcome_rows, session_rows, event_rows) -> OutcomesReport:
    """Aggregated rows (a few per protocol and group) into the report's tables."""
    rows: dict[tuple[str, str, int], Row] = {}

    def spread(r: dict, column: str, *, signed: bool = False) -> Figure:
        values = r["counts"][column]
        n = sum(count for _value, count in values)
        return median(n, *(_percentile(values, f) for f in (0.5, 0.25, 0.75)), signed=signed)

    for r in outcome_rows:
        row = Row(
            protocol_id=r["protocol_id"],
            protocol=r["protocol_name"],
            group=r["key"],
            started=r["n"],
            completed=r["completed"],
            in_progress=r["in_progress"],
            dropped_out=r["dropped_out"],
            pore_change=spread(r, "change", signed=True),
            gais={g.value: share(r[f"gais_{g.value}"], r["gais_n"]) for g in Gais},
            improved=share(sum(r[f"gais_{g.value}"] for g in _IMPROVED), r["gais_n"]),
            satisfaction=spread(r, "satisfaction"),
            adverse={code: share(0, r["n"]) for code, _ in ADVERSE_TYPES},
        )
        row.sessions_per_plan = Figure("mean", row.started, 0.0 if row.started else None)
        rows[(r["split"], r["key"], r["protocol_id"])] = row
    for r in session_rows:
        row = rows.get((r["split"], r["key"], r["protocol_id"]))
        if row is None:
            continue
        row.sessions_per_plan = Figure("mean", row.started, r["done"] / row.started)
        row.adherence = Figure(
            "share", r["plans_treated"], r["in_window"] / r["done"], count=r["in_window"], total=r["done"]
        )
    for r in event_rows:
        row = rows.get((r["split"], r["key"], r["protocol_id"]))
        if row is not None:
            row.adverse[r["event_type"]] = share(r["plans_with"], row.started)
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
    had = AdverseEvent.objects.filter(session__isnull=False).values("session__plan_id")
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
