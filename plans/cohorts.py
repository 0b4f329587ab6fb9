"""Who a plan was made for, in the groups the outcomes report and the plan preview's evidence
compare: the one definition of the Fitzpatrick groups and the age bands.

A plan records its client's Fitzpatrick type, age, oiliness and pore concern as they were when
it was made (TreatmentPlan.cohort_*), so a client who later changes (re-typed, older, oilier)
still counts where they were treated. Pure Python: the SQL side (reports.py) builds its CASE
expressions from these same tuples.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# (label, lowest type, highest type): the split the literature on PIH risk uses.
FITZPATRICK_GROUPS: tuple[tuple[str, int, int], ...] = (("I-III", 1, 3), ("IV-VI", 4, 6))

# (label, from age, below age); None: open-ended. Bands are half-open so every age has one.
AGE_BANDS: tuple[tuple[str, int | None, int | None], ...] = (
    ("<30", None, 30),
    ("30-44", 30, 45),
    ("45-59", 45, 60),
    ("60+", 60, None),
)


def age_on(date_of_birth: dt.date, day: dt.date) -> int:
    return day.year - date_of_birth.year - ((day.month, day.day) < (date_of_birth.month, date_of_birth.day))


def fitzpatrick_group(fitzpatrick: int) -> tuple[str, int, int]:
    return next(g for g in FITZPATRICK_GROUPS if g[1] <= fitzpatrick <= g[2])


def age_band(age: int) -> tuple[str, int | None, int | None]:
    return next(b for b in AGE_BANDS if (b[1] is None or age >= b[1]) and (b[2] is None or age < b[2]))


@dataclass(frozen=True)
class Cohort:
    """The client as a plan is made for them (the TreatmentPlan.cohort_* columns)."""

    fitzpatrick: int
    age: int
    oiliness: str
    pore_concern: str

    @classmethod
    def of(cls, client, start: dt.date) -> Cohort:
        """`client`: anything with the Client profile fields (a model row or a historical one)."""
        return cls(
            fitzpatrick=client.fitzpatrick,
            age=age_on(client.date_of_birth, start),
            oiliness=client.oiliness,
            pore_concern=client.pore_concern,
        )

    def as_fields(self) -> dict:
        return {
            "cohort_fitzpatrick": self.fitzpatrick,
            "cohort_age": self.age,
            "cohort_oiliness": self.oiliness,
            "cohort_pore_concern": self.pore_concern,
        }

    @property
    def fitzpatrick_group(self) -> str:
        return fitzpatrick_group(self.fitzpatrick)[0]

    @property
    def age_band(self) -> str:
        return age_band(self.age)[0]
