"""Issue #17 on a 768 px tablet: the practitioner fills the treatment record zone by zone, signs it
off (which completes the session), then records a reaction from the record page."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from plans import models
from plans.services import safety
from tests.factories import RoomFactory
from tests.helpers.plans import plan_to_book
from tests.helpers.records import kit
from tests.helpers.safety import check_answers
from tests.helpers.snapshots import protocol_snapshot

pytestmark = pytest.mark.django_db(transaction=True)


def _under_way(practitioner) -> models.PlanSession:
    """Session 1 of a plan with the shipped per-zone caps, begun ten minutes ago, its check recorded."""
    plan = plan_to_book(first_target=timezone.localdate(), count=2)
    zones = [
        {"zone": "nose", "cap_mm": "0.5"},
        {"zone": "forehead", "cap_mm": "0.5"},
        {"zone": "cheeks", "cap_mm": "1.5"},
    ]
    snapshot = protocol_snapshot(session_count=2) | {"zones": zones}
    models.TreatmentPlan.objects.filter(pk=plan.pk).update(protocol_snapshot=snapshot)
    session = plan.sessions.get(sequence=1)
    start = timezone.now() - dt.timedelta(minutes=10)
    # The booking service refuses past times; a session already under way is placed directly.
    models.PlanSession.objects.filter(pk=session.pk).update(
        status="booked", starts_at=start, ends_at=start + dt.timedelta(minutes=60),
        blocked_until=start + dt.timedelta(minutes=75), practitioner=practitioner, room=RoomFactory(),
        depth_mm="1.0",
    )  # fmt: skip
    safety.pre_session_check_record(session=session, answers=check_answers(), by=None)
    return session


def test_a_practitioner_fills_the_record_per_zone_on_a_tablet_and_signing_off_completes_the_session(
    log_in, page, live_server, aesthetician
):
    session = _under_way(aesthetician.practitioner)
    device, cartridge = kit()
    page.set_viewport_size({"width": 768, "height": 1024})
    log_in(aesthetician)
    page.goto(f"{live_server.url}/sessions/{session.pk}/")
    page.get_by_role("link", name="Open the treatment record").click()

    page.locator("select[name=device]").select_option(str(device.pk))
    page.get_by_label("Needle cartridge lot").select_option(str(cartridge.pk))
    page.get_by_label("Nose depth (mm)").fill("0.5")
    page.get_by_label("Forehead depth (mm)").fill("0.5")
    page.get_by_label("Cheeks depth (mm)").fill("1.0")
    page.get_by_label("Passes").fill("3")
    page.get_by_label("Clinical endpoint reached").select_option("pinpoint_bleeding")
    page.get_by_label("Topical anaesthetic", exact=True).fill("Lidocaine 5%")
    page.get_by_label("Anaesthetic contact time (minutes)").fill("30")
    page.get_by_label("Immediate reaction").fill("Even erythema, settled in 20 minutes")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the record form is {overflow} px too wide at 768 px"
    page.get_by_role("button", name="Sign off and complete").click()

    expect(page.locator("#record-zones")).to_contain_text("Cheeks: 1.00 mm")
    expect(page.locator("#record-signed")).to_contain_text(aesthetician.get_full_name())
    expect(page.locator("#record-form")).to_have_count(0)
    session.refresh_from_db()
    assert session.status == models.SessionStatus.COMPLETED and session.depth_used_mm == 1
    record = models.TreatmentRecord.objects.get(session=session)
    assert {z.zone: str(z.depth_mm) for z in record.zones.all()} == {
        "nose": "0.50",
        "forehead": "0.50",
        "cheeks": "1.00",
    }

    page.get_by_role("link", name="Record an adverse event").click()
    page.get_by_label("Type").select_option("prolonged_erythema")
    page.get_by_label("Severity").select_option("moderate")
    page.get_by_label("Description").fill("Redness still strong on day 3")
    page.get_by_role("button", name="Record").click()
    expect(page.locator("#adverse-hold")).to_be_visible()
    expect(page.locator("#clear-form")).to_contain_text("Only a clinician may clear it")
    session.plan.refresh_from_db()
    assert session.plan.adverse_event_hold
