"""The report's medians come from counts of each value (plans/reports.py `_percentile`), not from
percentile_cont over the values: the two must agree exactly, or a figure would change with the
database's plan."""

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plans.aggregates import percentile_cont
from plans.reports import _percentile


@settings(max_examples=50, deadline=None)
@given(
    values=st.lists(st.integers(min_value=-4, max_value=10), max_size=40),
    fraction=st.sampled_from([0.25, 0.5, 0.75]),
)
def test_a_percentile_from_counts_equals_percentile_cont_over_the_values(values, fraction):
    counts = list(Counter(values).items())
    assert _percentile(counts, fraction) == percentile_cont(values, fraction)


def test_the_hand_computed_quartiles_of_the_report_fixture():
    # Protocol A's changes in tests/outcomes/test_report.py: -3, -2, -1, -1, 0, +2.
    counts = [(-1, 2), (2, 1), (-3, 1), (0, 1), (-2, 1)]
    assert [_percentile(counts, f) for f in (0.25, 0.5, 0.75)] == [-1.75, -1.0, -0.25]


def test_no_values_have_no_percentile():
    assert _percentile([], 0.5) is None


@pytest.mark.parametrize("fraction", [0.0, 1.0])
def test_the_ends_are_the_smallest_and_largest_value(fraction):
    assert _percentile([(3, 2), (1, 5)], fraction) == (1 if fraction == 0 else 3)
