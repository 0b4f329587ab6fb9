"""Treatment records for tests: the kit a sign-off names, the record a service call or a form post carries,
and completing a microneedling session the one way the app allows, by signing its record off."""

from __future__ import annotations

from decimal import Decimal

from plans.models import Device, Endpoint, Lot, PlanSession
from plans.services import booking
from tests.factories import DeviceFactory, LotFactory


def kit() -> tuple[Device, Lot]:
    """A device in service and an unexpired cartridge lot, made once per test database."""
    device = Device.objects.filter(serial_number="TEST-PEN").first() or DeviceFactory(serial_number="TEST-PEN")
    cartridge = Lot.objects.filter(lot_number="TEST-LOT").first() or LotFactory(lot_number="TEST-LOT")
    return device, cartridge


def zones_at(session: PlanSession, depth) -> dict[str, Decimal]:
    """Every zone of the plan at `depth`, or at its cap where that is lower; the deepest zone at `depth`."""
    depth = Decimal(str(depth))
    zones = booking.record_zones(session)
    deepest = max(zones, key=lambda z: z[1])[0]
    return {zone: depth if zone == deepest else min(depth, cap) for zone, cap in zones}


def record_input(session: PlanSession, depth="0.5", *, zones=None, **fields) -> booking.RecordInput:
    device, cartridge = kit()
    values = {
        "device": device,
        "cartridge": cartridge,
        "zones": zones if zones is not None else zones_at(session, depth),
        "passes": 3,
        "endpoint": Endpoint.ERYTHEMA,
    } | fields
    return booking.RecordInput(**values)


def complete(session: PlanSession, depth="0.5", *, by=None, zones=None, record_fields=None, **kwargs) -> PlanSession:
    """Complete a session; a microneedling one by signing off a record with the deepest zone at `depth`."""
    record = None
    if session.kind == "microneedling":
        record = record_input(session, depth, zones=zones, **(record_fields or {}))
        # Signed off by the practitioner who did it, unless a test says who.
        by = by or PlanSession.objects.select_related("practitioner__user").get(pk=session.pk).practitioner.user
    return booking.session_complete(session=session, record=record, by=by, **kwargs)


def record_post(session: PlanSession, depth="0.5", *, zones=None, **fields) -> dict[str, str]:
    """The record form's fields as the browser posts them (zone_0, zone_1... in the plan's zone order)."""
    device, cartridge = kit()
    depths = zones if zones is not None else zones_at(session, depth)
    data = {"device": str(device.pk), "cartridge": str(cartridge.pk), "passes": "3", "endpoint": Endpoint.ERYTHEMA}
    for i, (zone, _cap) in enumerate(booking.record_zones(session)):
        data[f"zone_{i}"] = str(depths[zone]) if zone in depths else ""
    return data | {k: str(v) for k, v in fields.items()}
