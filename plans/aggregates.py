"""SQL aggregates the ORM lacks: a percentile (the median and quartiles of the outcomes report).

PostgreSQL has percentile_cont as an ordered-set aggregate. SQLite (the embedded default) has
none, so the same linear interpolation is registered on every SQLite connection as a Python
aggregate (`register_sqlite_functions`, connected in apps.py): the report's SQL is one GROUP BY
on both, and both give the same figures (tests/outcomes/test_report.py runs on each).
"""

from __future__ import annotations

import math

from django.db.models import Aggregate, FloatField


def percentile_cont(values: list[float], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the two nearest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class Percentile(Aggregate):
    """Percentile(expression, 0.5): the median of the non-null values (NULL when there are none)."""

    function = "PERCENTILE_CONT"
    name = "Percentile"
    output_field = FloatField()
    allow_distinct = False
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("A percentile's fraction is between 0 and 1.")
        # A float literal we format ourselves, never user input.
        super().__init__(expression, fraction=repr(float(fraction)), **extra)

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            function="clinic_percentile",
            template="%(function)s(%(expressions)s, %(fraction)s)",
            **extra_context,
        )


class _SqlitePercentile:
    def __init__(self):
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value, fraction):
        self.fraction = fraction
        if value is not None:
            self.values.append(value)

    def finalize(self):
        return percentile_cont(self.values, self.fraction)


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """connection_created handler: clinic_percentile(value, fraction) on SQLite connections."""
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("clinic_percentile", 2, _SqlitePercentile)
