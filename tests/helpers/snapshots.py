"""Protocol snapshots for tests, built the way the app builds them (ProtocolParams.to_snapshot).

A hand-written snapshot dict drifts from what plan_create stores; this cannot.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from plans.planning import CareNoteParams, ProtocolParams, ReminderLeadParams


def protocol_params(**overrides: Any) -> ProtocolParams:
    """A plain three-session protocol; any field can be overridden (plain values are converted)."""
    fields: dict[str, Any] = {
        "code": "test-pores",
        "name": "Test pores",
        "session_count": 3,
        "interval_min_days": 21,
        "interval_target_days": 28,
        "interval_max_days": 42,
        "session_minutes": 60,
        "buffer_minutes": 15,
        "depth_cap_mm": Decimal("1.5"),
        "follow_up_days": 84,
    }
    fields.update(overrides)
    fields["depth_cap_mm"] = Decimal(str(fields["depth_cap_mm"]))
    if "depth_schedule" not in fields:
        fields["depth_schedule"] = (Decimal("0.5"),) * int(fields["session_count"])
    fields["depth_schedule"] = tuple(Decimal(str(d)) for d in fields["depth_schedule"])
    fields["reminder_leads"] = tuple(
        r if isinstance(r, ReminderLeadParams) else ReminderLeadParams(**r) for r in fields.get("reminder_leads", ())
    )
    fields["care_notes"] = tuple(
        n if isinstance(n, CareNoteParams) else CareNoteParams(**n) for n in fields.get("care_notes", ())
    )
    return ProtocolParams(**fields)


def protocol_snapshot(**overrides: Any) -> dict[str, Any]:
    return protocol_params(**overrides).to_snapshot()
