"""Re-planning the rest of a plan around the sessions already booked or done. Pure functions,
plain data in and out (no ORM), like plans.planning.

A clinician who recomputes a held plan keeps what is booked or done: those dates happened, or
the client arranged their diary around them. The engine's proposal for the client as they
are now is laid over them: its sessions after the last kept one move so that the first of
them keeps the protocol's interval from the last kept session (and the deferred start, and
today), and everything after it (washouts, the follow-up's 12 weeks) keeps its distance as
the engine placed it. A kept session that is still to come and now breaks a rule of the new
proposal is named, with the rule, for staff to move or a clinician to cancel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from plans import planning


@dataclass(frozen=True)
class Kept:
    """A microneedling session booked or done: it stays where it is."""

    mn_number: int
    day: dt.date
    depth_mm: Decimal | None
    done: bool
    label: str


@dataclass(frozen=True)
class Replan:
    # The proposal's visits still to place, their windows moved after the kept sessions.
    sessions: tuple[planning.ProposedSession, ...]
    # (mn_number, why): a kept session still to come that breaks a rule of the new proposal.
    conflicts: tuple[tuple[int, str], ...]
    # (mn_number, depth): a kept session still to come whose planned depth comes down to the new cap.
    lowered: tuple[tuple[int, Decimal], ...]
    # The day of the last kept session: visits of the old plan after it are replaced.
    anchor: dt.date


def _shift(s: planning.ProposedSession, days: int) -> planning.ProposedSession:
    d = dt.timedelta(days=days)
    return replace(s, earliest=s.earliest + d, target=s.target + d, latest=s.latest + d)


def replan_remaining(proposal: planning.PlanProposal, kept: Sequence[Kept], *, today: dt.date) -> Replan:
    """`proposal`: the engine's plan for the client now (ok, with a protocol); `kept`: the plan's
    booked and completed microneedling sessions (none: the whole proposal, from today)."""
    p = proposal.protocol
    assert p is not None
    kept = sorted(kept, key=lambda k: k.mn_number)
    last = kept[-1] if kept else None
    m = last.mn_number if last else 0
    mn = {s.mn_number: s for s in proposal.mn_sessions}
    n = p.session_count
    # 1. How far the engine's placement moves: the last kept session is where the proposal's
    #    session m (or its last one, when the new protocol has fewer) was planned.
    delta = (last.day - mn[min(m, n)].target).days if last else 0
    later = [s for s in proposal.sessions if not (s.mn_number is not None and s.mn_number <= m)]
    moved = [_shift(s, delta) for s in later]
    # 2. The first new session keeps the interval from the last kept one, the deferred start and today.
    first_mn = next((s for s in moved if s.mn_number == m + 1), None)
    if first_mn is not None:
        floor = max(
            last.day + dt.timedelta(days=p.interval_min_days) if last else dt.date.min,
            proposal.earliest_start,
            today + dt.timedelta(days=1),
        )
        if first_mn.earliest < floor:
            moved = [_shift(s, (floor - first_mn.earliest).days) for s in moved]
    anchor = last.day if last else dt.date.min
    # Visits that belong to the kept part (e.g. priming before session 1) are not placed again.
    sessions = tuple(s for s in moved if s.mn_number is not None or s.earliest > anchor)
    # 3. Kept sessions still to come, judged by the new proposal's rules.
    conflicts: list[tuple[int, str]] = []
    lowered: list[tuple[int, Decimal]] = []
    previous: Kept | None = None
    for k in kept:
        if not k.done:
            if k.mn_number > n:
                conflicts.append((k.mn_number, f"{k.label}: the plan now has {n} sessions, so this one is extra."))
            if k.day < proposal.earliest_start:
                conflicts.append(
                    (k.mn_number, f"{k.label} on {k.day:%d %b %Y} is before the deferred start of "
                     f"{proposal.earliest_start:%d %b %Y}.")
                )  # fmt: skip
            if previous is not None:
                gap = (k.day - previous.day).days
                if gap < p.interval_min_days:
                    conflicts.append(
                        (k.mn_number, f"{k.label} is {gap} days after {previous.label}: the minimum interval is "
                         f"now {p.interval_min_days} days.")
                    )  # fmt: skip
                elif gap > p.interval_max_days:
                    conflicts.append(
                        (k.mn_number, f"{k.label} is {gap} days after {previous.label}: the maximum interval is "
                         f"now {p.interval_max_days} days.")
                    )  # fmt: skip
            if k.depth_mm is not None and k.depth_mm > p.depth_cap_mm:
                lowered.append((k.mn_number, p.depth_cap_mm))
        previous = k
    return Replan(sessions=sessions, conflicts=tuple(conflicts), lowered=tuple(lowered), anchor=anchor)
