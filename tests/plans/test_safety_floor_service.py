"""The plan service applies the clinic's floor, with the recorded exception in force."""

import datetime as dt
from decimal import Decimal

from plans.services import clients, safety_exceptions
from plans.services import plans as plan_services
from tests.factories import ClientFactory
from tests.plans.factories import NO_TO_ALL


def test_a_deeper_cap_is_only_chosen_while_a_recorded_exception_allows_it(protocol, aesthetician, clinic_admin):
    protocol.depth_cap_mm = Decimal("2.0")
    protocol.depth_schedule = [0.5, 1.0, 2.0]
    protocol.save()
    person = ClientFactory()
    clients.screening_record(client=person, answers=NO_TO_ALL, screened_by=aesthetician)
    start = dt.date.today() + dt.timedelta(days=14)

    refused = plan_services.plan_preview(client=person, start=start)
    exception = safety_exceptions.safety_exception_record(
        max_depth_mm=Decimal("2.0"), reason="Scar clinic: device cleared to 2.0 mm", by=clinic_admin
    )
    allowed = plan_services.plan_preview(client=person, start=start)
    safety_exceptions.safety_exception_end(exception=exception, by=clinic_admin)
    refused_again = plan_services.plan_preview(client=person, start=start)

    assert refused.found_no_protocol and "Maximum depth 1.5 mm" in refused.exclusions[0].reasons[0]
    assert allowed.ok and max(s.depth_mm for s in allowed.mn_sessions) == Decimal("2.0")
    assert refused_again.found_no_protocol
    assert exception.history.count() == 2 and exception.history.first().history_user == clinic_admin
