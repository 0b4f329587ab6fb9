import pytest
from playwright.sync_api import expect

from plans.models import Protocol


@pytest.mark.django_db(transaction=True)
def test_a_clinic_admin_edits_a_protocol_in_the_browser_and_a_bad_depth_is_refused(
    log_in, live_server, clinic_admin, default_protocols
):
    page = log_in(clinic_admin)
    page.goto(f"{live_server.url}/admin/plans/protocol/")
    page.get_by_role("link", name="P1 Mild pores, Fitzpatrick I-III").click()

    depths = page.get_by_label("Depth schedule (mm)")
    assert depths.input_value() == "0.5, 0.75, 1.0"
    assert page.get_by_role("checkbox", name="Mild").is_checked()
    depths.fill("0.5, 0.75, 2.0")
    page.get_by_role("button", name="Save", exact=True).first.click()

    expect(page.get_by_text("Depth 2.0 mm (session 3) is above the protocol's cap of 1.5 mm.")).to_be_visible()
    assert Protocol.objects.get(code="p1-mild-i-iii").depth_schedule == [0.5, 0.75, 1.0]

    page.get_by_label("Depth schedule (mm)").fill("0.5, 0.75, 1.25")
    page.get_by_role("button", name="Save", exact=True).first.click()

    expect(page.get_by_text("was changed successfully")).to_be_visible()
    assert Protocol.objects.get(code="p1-mild-i-iii").depth_schedule == [0.5, 0.75, 1.25]
