"""Every URL in the project, opened by an anonymous visitor and by each role.

ACCESS below is the policy: one row per URL name saying what each visitor gets. A URL that
is not in the table fails the test, so a new page cannot ship without someone deciding who
may open it. Adding a page: add its name to ACCESS (usually with one of the rules below) and,
if its path has a parameter the walk cannot fill yet, a filler to PARAMETERS.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.urls import get_resolver, reverse
from simple_history.utils import get_history_model_for_model

from plans.models import IntakeInvitation
from tests.helpers import world as world_data
from tests.helpers.sweeps import Page, walk
from tests.helpers.world import CLINICAL_TEXT, DEPTH

ANONYMOUS, FRONT_DESK, AESTHETICIAN, CLINIC_ADMIN = "anonymous", "front_desk", "aesthetician", "clinic_admin"
VISITORS = (ANONYMOUS, FRONT_DESK, AESTHETICIAN, CLINIC_ADMIN)

# What a visitor gets.
LOGIN = "redirect to the login page"
ADMIN_LOGIN = "redirect to the admin's login page"
OK = "the page (200, or a redirect elsewhere)"
DENIED = 403
PUBLIC = "a public answer (not a login redirect, not 403, not a server error)"


def rule(anonymous, front_desk, aesthetician, clinic_admin) -> dict:
    return dict(zip(VISITORS, (anonymous, front_desk, aesthetician, clinic_admin), strict=True))


ANY_STAFF = rule(LOGIN, OK, OK, OK)
CLINICAL = rule(LOGIN, DENIED, OK, OK)  # clinical record: screening answers, clinical notes
CLIENT_DATA_RIGHTS = rule(LOGIN, DENIED, DENIED, OK)  # export and erasure: the clinic admin
DJANGO_ADMIN = rule(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, OK)  # only is_staff (clinic admins) get in
ADMIN_FORBIDDEN = rule(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, DENIED)  # not even clinic admins
PUBLIC_PAGE = rule(PUBLIC, PUBLIC, PUBLIC, PUBLIC)  # signed-link pages clients open without an account

# The policy. Exact names win over patterns (fnmatch). Names of public signed-link pages
# start with "public-" (or live in the "public" namespace) and must use PUBLIC_PAGE.
ACCESS: dict[str, dict] = {
    "login": rule(OK, OK, OK, OK),
    "logout": rule(405, 405, 405, 405),  # POST only, so a link or an image cannot log anyone out
    "home": ANY_STAFF,
    "client-list": ANY_STAFF,
    "client-search": ANY_STAFF,  # the navbar search: contact details only, by POST
    "client-detail": ANY_STAFF,  # front desk sees the profile and plans, not the clinical record
    "client-create": CLINICAL,  # intake includes the screening answers
    "client-edit": CLINICAL,
    "screening-correct": CLINICAL,  # shows the current screening's answers to correct them
    "plan-new": CLINICAL,
    "plan-detail": ANY_STAFF,  # front desk books from it; rationale and warnings are hidden
    "plan-recompute": rule(LOGIN, DENIED, 405, 405),  # POST only
    # New clients' forms: front desk takes the first call, invites and follows the list (names and
    # status); the answers, and the review that creates the client from them, are clinical.
    "intake-list": ANY_STAFF,
    "intake-invite": rule(LOGIN, 405, 405, 405),  # POST only
    "intake-detail": CLINICAL,
    "intake-revoke": rule(LOGIN, 405, 405, 405),  # POST only
    "messages": ANY_STAFF,
    "client-messages": ANY_STAFF,
    "message-resend": rule(LOGIN, 405, 405, 405),  # POST only
    "client-access-revoke": rule(LOGIN, 405, 405, 405),  # POST only; every staff role may withdraw a page link
    "calendar": ANY_STAFF,
    "calendar-events": ANY_STAFF,
    "calendar-closed": ANY_STAFF,
    "calendar-bookable": ANY_STAFF,
    "day-list": ANY_STAFF,
    "calendar-feed": ANY_STAFF,
    "session-panel": ANY_STAFF,
    "session-rebook": ANY_STAFF,  # free slots for a cancelled session: booking, not clinical
    "plan-book": ANY_STAFF,
    "session-book": rule(LOGIN, 405, 405, 405),  # POST only
    "waitlist": ANY_STAFF,  # a booking page: who waits for an earlier slot, no clinical data
    "waitlist-remove": rule(LOGIN, 405, 405, 405),  # POST only
    "session-reschedule": rule(LOGIN, 405, 405, 405),
    "session-cancel": rule(LOGIN, 405, 405, 405),
    "session-check-in": rule(LOGIN, 405, 405, 405),  # POST only; arrival is not clinical
    "session-start": rule(LOGIN, DENIED, 405, 405),  # POST only; treatment begins: not front desk
    "session-no-show": rule(LOGIN, 405, 405, 405),
    "session-complete": rule(LOGIN, DENIED, 405, 405),  # clinical: the treatment record's sign-off
    # The treatment record and adverse events are clinical; a recall's contact list is the clinic admin's.
    "session-record": CLINICAL,
    "session-record-addendum": rule(LOGIN, DENIED, 405, 405),  # POST only
    "session-score": rule(LOGIN, DENIED, 405, 405),  # POST only: rating the outcome is clinical
    "adverse-event-new": CLINICAL,
    "adverse-event": CLINICAL,
    "adverse-event-clear": rule(LOGIN, DENIED, 405, 405),  # POST only; the service refuses non-clinicians
    "adverse-event-resolve": rule(LOGIN, DENIED, 405, 405),
    "lot-treated": CLIENT_DATA_RIGHTS,
    # The pre-session check's answers are health data: never front desk (tests/safety reads the pages).
    "session-check": CLINICAL,
    # Clinical decisions: only a clinician (the Clinician role; clinic admins hold every permission).
    "plan-hold-decide": rule(LOGIN, DENIED, DENIED, 405),  # POST only
    "plan-review-signoff": rule(LOGIN, DENIED, DENIED, 405),  # POST only
    # The practitioner's calendar feed: the secret in the URL is the key (an invalid one is a 404).
    "practitioner-feed": rule(404, 404, 404, 404),
    # Consent: front desk sees only whether one is on file (client page, Today); the signed text, the
    # signature, where it was signed from and the tablet signing page are the clinical record.
    "consent-sign": CLINICAL,
    "consent-detail": CLINICAL,
    "consent-pdf": CLINICAL,
    "consent-withdraw": rule(LOGIN, DENIED, 405, 405),  # POST only
    # Standard photos are the clinical record: never front desk; the upload is POST only.
    "session-photos": CLINICAL,
    "photo-upload": rule(LOGIN, DENIED, 405, 405),
    "photo-image": CLINICAL,
    "client-before-after": CLINICAL,
    # The outcomes report: clinicians and clinic admins only (plans.view_outcomes_report).
    "outcomes-report": CLIENT_DATA_RIGHTS,
    "outcomes-report-csv": CLIENT_DATA_RIGHTS,
    "client-export": CLIENT_DATA_RIGHTS,
    "client-export-json": CLIENT_DATA_RIGHTS,
    "client-erase": CLIENT_DATA_RIGHTS,
    "public-*": PUBLIC_PAGE,
    "public:*": PUBLIC_PAGE,
    # --- The Django admin: its own login; only staff (clinic admins) get in, then model permissions apply.
    "admin:*": DJANGO_ADMIN,
    "admin:login": rule(OK, OK, OK, OK),  # the form for visitors; a clinic admin is sent on to the index
    # Logging out needs a POST; a GET by someone who is not admin staff just bounces to the admin index.
    "admin:logout": rule(OK, OK, OK, 405),
    "admin:autocomplete": ADMIN_FORBIDDEN,  # without a valid model and field in the query it refuses
    "admin:view_on_site": rule(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 404),  # clients have no public URL
    "admin:<catch-all>": rule(ADMIN_LOGIN, ADMIN_LOGIN, ADMIN_LOGIN, 404),
    # Staff accounts: clinic admins manage users but not the role groups (those come from plans/roles.py).
    "admin:auth_group_add": ADMIN_FORBIDDEN,
    "admin:auth_group_delete": ADMIN_FORBIDDEN,
    "admin:auth_user_delete": ADMIN_FORBIDDEN,  # deactivate instead: the audit trail points at users
    # Login attempts are written by axes only; a clinic admin may read them and delete one to unlock a login.
    "admin:axes_*_add": ADMIN_FORBIDDEN,
    "admin:axes_accesslog_delete": ADMIN_FORBIDDEN,
    "admin:axes_accessfailurelog_delete": ADMIN_FORBIDDEN,
    # Plans and sessions are written by services, never added in the admin; the heartbeat by the worker.
    "admin:plans_treatmentplan_add": ADMIN_FORBIDDEN,
    "admin:plans_plansession_add": ADMIN_FORBIDDEN,
    # Outcomes: five fixed grades (reworded, never added or removed); a question with answers is
    # retired, not deleted; scores and questionnaire responses are written by the services only.
    "admin:plans_poregradeanchor_add": ADMIN_FORBIDDEN,
    "admin:plans_poregradeanchor_delete": ADMIN_FORBIDDEN,
    "admin:plans_outcomequestion_delete": ADMIN_FORBIDDEN,
    "admin:plans_outcomescore_add": ADMIN_FORBIDDEN,
    "admin:plans_outcomescore_delete": ADMIN_FORBIDDEN,
    "admin:plans_questionnaireresponse_add": ADMIN_FORBIDDEN,
    "admin:plans_questionnaireresponse_delete": ADMIN_FORBIDDEN,
    "admin:plans_workerheartbeat_add": ADMIN_FORBIDDEN,
    # A screen is recorded through the client's edit page, which checks every question is answered.
    "admin:plans_screening_add": ADMIN_FORBIDDEN,
    "admin:plans_screening_delete": ADMIN_FORBIDDEN,  # a screening is a record: corrected by a new one, not removed
    "admin:plans_safetyexception_delete": ADMIN_FORBIDDEN,  # switched off instead, so its history stays
    # The outbox is written by booking services and workers; the admin only reads it.
    "admin:plans_message_add": ADMIN_FORBIDDEN,
    "admin:plans_message_delete": ADMIN_FORBIDDEN,
    # Consent forms: editing makes a new version; versions are records, and forms are never deleted.
    "admin:plans_consenttemplate_delete": ADMIN_FORBIDDEN,
    "admin:plans_consentversion_add": ADMIN_FORBIDDEN,
    "admin:plans_consentversion_delete": ADMIN_FORBIDDEN,
    # The access log is read-only for everybody.
    "admin:plans_recordaccess_add": ADMIN_FORBIDDEN,
    "admin:plans_recordaccess_delete": ADMIN_FORBIDDEN,
    # New-client forms are sent, answered and reviewed through the "New clients" pages; the admin reads them.
    "admin:plans_intakeinvitation_add": ADMIN_FORBIDDEN,
    "admin:plans_intakeinvitation_delete": ADMIN_FORBIDDEN,
}

# Pages anonymous visitors may open although they are not signed-link pages.
ANONYMOUS_BY_DESIGN = {"login", "admin:login", "admin:logout", "practitioner-feed"}


# --- Walking the URLconf -----------------------------------------------------------------------


def rule_for(name: str) -> dict | None:
    if name in ACCESS:
        return ACCESS[name]
    matches = [key for key in ACCESS if fnmatch.fnmatchcase(name, key)]
    return ACCESS[max(matches, key=len)] if matches else None


# --- Filling path parameters with real ids ---------------------------------------------------------

ADMIN_MODEL = re.compile(r"^admin/(?:\^)?(?P<app>\w+)/(?P<model>\w+)/")


def _admin_model(page: Page):
    found = ADMIN_MODEL.match(page.route)
    return apps.get_model(found["app"], found["model"]) if found else None


def _admin_object_id(page: Page, world) -> str:
    model = _admin_model(page)
    if model is None:  # the admin's "view on site" link: content type and id of a client
        return str(world.client.pk)
    obj = model._default_manager.order_by("pk").first()
    if obj is None:
        pytest.fail(f"{page.name}: no {model._meta.label} row to open; create one in tests/conftest.py world")
    return str(obj.pk)


def _object_named_by_page(page: Page, world) -> int:
    """<int:pk> in a page named after its object: client-detail -> the client, session-book -> the session."""
    kind = page.name.split(":")[-1].split("-")[0]
    obj = getattr(world, kind, None)
    if obj is None:
        pytest.fail(f"{page.name}: cannot tell what <pk> is; name the parameter (client_id, ...) or add a filler")
    return obj.pk


# Parameter name -> how to fill it from the world (the `world` fixture in tests/conftest.py).
PARAMETERS: dict[str, Callable] = {
    "client_id": lambda page, world: world.client.pk,
    "screening_id": lambda page, world: world.screening.pk,
    "plan_id": lambda page, world: world.plan.pk,
    "session_id": lambda page, world: world.session.pk,
    "message_id": lambda page, world: world.session.messages.first().pk,
    "protocol_id": lambda page, world: world.protocol.pk,
    "practitioner_id": lambda page, world: world.practitioner.pk,
    "room_id": lambda page, world: world.room.pk,
    "event_id": lambda page, world: world.event.pk,
    "lot_id": lambda page, world: world.lot.pk,
    "intake_id": lambda page, world: IntakeInvitation.objects.order_by("pk").first().pk,
    # POST-only pages refuse a GET before reading the hold, so any id will do.
    "hold_id": lambda page, world: 1,
    "entry_id": lambda page, world: 1,
    "consent_id": lambda page, world: world.client.consents.order_by("pk").first().pk,
    "kind": lambda page, world: "treatment",
    "view_id": lambda page, world: world.photo.view_id,
    "size": lambda page, world: "thumb",
    "pk": _object_named_by_page,
    "year": lambda page, world: 2026,
    "month": lambda page, world: 1,
    "day": lambda page, world: 5,
    "date": lambda page, world: "2026-01-05",
    "object_id": _admin_object_id,
    "id": _admin_object_id,  # the admin's user password page
    "app_label": lambda page, world: "plans",
    "content_type_id": lambda page, world: ContentType.objects.get_for_model(world.client).pk,
    "url": lambda page, world: "no-such-page/",
    # A signed-link token that is not valid: the page must still answer anonymous visitors sensibly.
    "token": lambda page, world: "not-a-valid-token",
}
# Patterns that cannot be filled, with the reason. Keep this empty unless there is no other way.
UNFILLABLE: dict[str, str] = {}


def _simple_history_args(page: Page, world) -> list[str]:
    """An object and one of its own history versions (rows made by migrations have no history)."""
    history = get_history_model_for_model(_admin_model(page))
    version = history.objects.order_by("history_id").first()
    if version is None:
        pytest.fail(f"{page.name}: no history row to open; change a {history.instance_type._meta.label} in the world")
    return [str(getattr(version, history.instance_type._meta.pk.attname)), str(version.pk)]


# Patterns whose groups are positional (no names): how to fill them.
POSITIONAL: dict[str, Callable] = {
    "admin:*_simple_history": _simple_history_args,  # django-simple-history's re_path
}


def url_for(page: Page, world) -> str:
    regex = page.pattern.pattern.regex
    if regex.groups and not regex.groupindex:
        filler = next((v for k, v in POSITIONAL.items() if fnmatch.fnmatch(page.name, k)), None)
        if filler is None:
            pytest.fail(f"{page.name} ({page.route}) has unnamed groups: add a filler to POSITIONAL.")
        return reverse(page.name, args=filler(page, world))
    params = regex.groupindex
    missing = [param for param in params if param not in PARAMETERS]
    if missing:
        pytest.fail(
            f"{page.name} ({page.route}) has path parameter(s) {missing} that the URL walk cannot fill: add a "
            "filler to PARAMETERS in tests/security/test_url_access.py (or, only if impossible, UNFILLABLE)."
        )
    values = {param: str(PARAMETERS[param](page, world)) for param in params}
    if page.pattern.name:
        return reverse(page.name, kwargs=values)
    # Unnamed patterns cannot be reversed: substitute into the route text.
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values[m[1]], page.route)
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m[1]], path)
    return "/" + path.replace("^", "").replace("$", "")


# --- Outcomes ----------------------------------------------------------------------------------


def outcome(response) -> str | int:
    if response.status_code in (301, 302, 303, 307, 308):
        location = response["Location"]
        if location.startswith(reverse("admin:login")):
            return ADMIN_LOGIN
        if location.startswith(reverse("login")):
            return LOGIN
        return OK
    return OK if response.status_code == 200 else response.status_code


def matches(expected, got: str | int) -> bool:
    if expected == PUBLIC:
        return got not in (LOGIN, ADMIN_LOGIN, DENIED) and not (isinstance(got, int) and got >= 500)
    return expected == got


def is_public_name(name: str) -> bool:
    return name.startswith(("public-", "public:"))


# --- The tests ---------------------------------------------------------------------------------

PAGES = list(walk(get_resolver()))


def test_every_url_pattern_is_in_the_access_table():
    missing = [f"{page.name}  ({page.route})" for page in PAGES if rule_for(page.name) is None]
    assert not missing, (
        "These URLs have no access rule. Decide who may open each page and add its name to ACCESS in "
        "tests/security/test_url_access.py (ANY_STAFF, CLINICAL, CLIENT_DATA_RIGHTS, PUBLIC_PAGE or a rule(...)); "
        "protect the view with plans.permissions.staff_required or public_rate_limited:\n  " + "\n  ".join(missing)
    )


@pytest.mark.django_db
def test_opening_a_logout_url_with_get_logs_nobody_out(client, aesthetician, clinic_admin):
    for user, page in ((aesthetician, "logout"), (clinic_admin, "admin:logout")):
        client.force_login(user)
        client.get(reverse(page))
        assert client.get(reverse("home")).status_code == 200, f"GET {page} logged {user} out"


def test_only_signed_link_pages_and_login_forms_are_open_to_anonymous_visitors():
    for page in PAGES:
        access = rule_for(page.name)
        if access is None:
            continue
        if is_public_name(page.name):
            assert access == PUBLIC_PAGE, f"{page.name} is a public signed-link page: its rule must be PUBLIC_PAGE."
        elif access[ANONYMOUS] in (OK, PUBLIC):
            assert page.name in ANONYMOUS_BY_DESIGN, (
                f"{page.name} would be open to anyone on the internet. Staff pages need @staff_required(...); "
                "pages for clients must be signed-link pages named 'public-...'."
            )


def test_the_access_table_lists_no_page_that_does_not_exist():
    names = {page.name for page in PAGES}
    stale = [key for key in ACCESS if not any(fnmatch.fnmatchcase(name, key) for name in names)]
    stale = [key for key in stale if key not in ("public-*", "public:*")]
    assert not stale, f"ACCESS lists URL names that no longer exist: {stale}"


@pytest.mark.django_db
@pytest.mark.parametrize("visitor", VISITORS)
def test_each_visitor_gets_what_the_access_table_says_on_every_page(visitor, world, client, request):
    if visitor != ANONYMOUS:
        client.force_login(request.getfixturevalue(visitor))
    wrong = []
    for page in PAGES:
        access = rule_for(page.name)
        if access is None:
            continue  # reported by test_every_url_pattern_is_in_the_access_table
        if page.name in UNFILLABLE:
            continue
        url = url_for(page, world)
        got = outcome(client.get(url))
        if not matches(access[visitor], got):
            wrong.append(f"{page.name} GET {url}: expected {access[visitor]}, got {got}")
    assert not wrong, f"As {visitor}:\n  " + "\n  ".join(wrong)


# --- What each role reads on the pages it may open ---------------------------------------------------


def _clinical_found(text: str) -> list[str]:
    found = [what for what, needle in CLINICAL_TEXT.items() if needle.lower() in text.lower()]
    if match := DEPTH.search(text):
        found.append(f"needle depth ({match[0]!r})")
    return found


def _staff_pages_and_extras(world, completed) -> list[str]:
    """Every page the URL walk opens outside the Django admin, plus the views of the world's data that
    need a query: the completed plan, its session's dialog fragment, and the calendar's JSON for that week."""
    urls = [
        url_for(page, world)
        for page in PAGES
        if not page.name.startswith("admin:") and page.name not in UNFILLABLE and rule_for(page.name)
    ]
    done = completed.sessions.get(sequence=1)
    urls += [
        reverse("plan-detail", args=[completed.pk]),
        reverse("session-panel", args=[done.pk]) + "?fragment=1",
        reverse("session-panel", args=[world.session.pk]) + "?fragment=1",
        reverse("calendar-events") + "?start=2026-01-19&end=2026-01-26",
        reverse("calendar-events") + "?start=2026-01-19&end=2026-01-26&mode=rooms&cancelled=1",
        reverse("calendar-bookable") + "?date=2026-02-17",
        reverse("day-list") + "?date=2026-01-20",
        reverse("session-record", args=[done.pk]),
    ]
    return urls


@pytest.mark.django_db
def test_front_desk_reads_no_clinical_text_on_any_page_or_json_it_may_open(world, completed_plan, client, front_desk):
    client.force_login(front_desk)
    leaks = []
    opened = 0
    for url in _staff_pages_and_extras(world, completed_plan):
        response = client.get(url)
        if response.status_code != 200:
            continue
        opened += 1
        if found := _clinical_found(response.content.decode()):
            leaks.append(f"{url}: {', '.join(found)}")
    assert opened >= 15, "the walk opened too few pages to mean anything"
    week = client.get(reverse("calendar-events") + "?start=2026-01-19&end=2026-01-26").json()
    assert [e["title"] for e in week] == ["Zoe Quinn · Microneedling session 1 of 2"], (
        "the JSON checked holds the session"
    )
    assert not leaks, "Front desk reads clinical text:\n  " + "\n  ".join(leaks)


@pytest.mark.django_db
def test_an_aesthetician_reads_every_clinical_field_the_front_desk_does_not(
    world, completed_plan, client, aesthetician
):
    client.force_login(aesthetician)
    completed = completed_plan
    pages = {
        "client": client.get(reverse("client-detail", args=[world.client.pk])).content.decode(),
        "plan": client.get(reverse("plan-detail", args=[completed.pk])).content.decode(),
        "list": client.get(reverse("client-list")).content.decode(),
        "record": client.get(reverse("session-record", args=[completed.sessions.get(sequence=1).pk])).content.decode(),
        "adverse event": client.get(reverse("adverse-event", args=[world.event.pk])).content.decode(),
    }
    everything = " ".join(pages.values())
    missing = [what for what, needle in CLINICAL_TEXT.items() if needle.lower() not in everything.lower()]
    assert not missing, f"The aesthetician's pages lack: {missing}"
    assert DEPTH.search(pages["plan"]) and "Fitzpatrick" in pages["list"]
    assert world_data.COLD_SORES in pages["plan"] and world_data.SCREENING_QUESTION in pages["client"]


@pytest.mark.django_db
@pytest.mark.parametrize(("visitor", "offered"), [("front_desk", False), ("aesthetician", True)])
def test_only_actions_the_role_may_perform_are_offered(world, client, request, visitor, offered):
    client.force_login(request.getfixturevalue(visitor))
    plan_page = client.get(reverse("plan-detail", args=[world.plan.pk])).content.decode()
    client_page = client.get(reverse("client-detail", args=[world.client.pk])).content.decode()
    list_page = client.get(reverse("client-list")).content.decode()

    assert ("Recompute plan" in plan_page) is offered
    assert (reverse("plan-new", args=[world.client.pk]) in client_page) is offered
    assert (reverse("client-edit", args=[world.client.pk]) in client_page) is offered
    assert (reverse("client-create") in list_page) is offered
    assert "Book sessions" in plan_page  # both book


@pytest.mark.django_db
def test_front_desk_sees_whether_consent_is_on_file_but_never_the_signed_text_or_signature(
    world, completed_plan, client, front_desk, aesthetician
):
    signed = world.client.consents.get()
    needles = {
        "signed text": "Post-inflammatory hyperpigmentation",
        "text hash": signed.text_sha256,
        "signature image": "data:image/png",
        "signed from": "Test tablet",
        "consent page": reverse("consent-detail", args=[signed.pk]),
    }
    client.force_login(aesthetician)
    record = client.get(reverse("consent-detail", args=[signed.pk])).content.decode()
    assert all(needle in record for needle in needles.values() if not needle.startswith("/")), "the needles are real"

    client.force_login(front_desk)
    page = client.get(reverse("client-detail", args=[world.client.pk])).content.decode()
    assert 'class="consent-treatment consent-current' in page and "Treatment consent on file" in page
    leaks = []
    for url in _staff_pages_and_extras(world, completed_plan):
        response = client.get(url)
        if response.status_code == 200:
            text = response.content.decode()
            leaks += [f"{url}: {what}" for what, needle in needles.items() if needle in text]
    assert not leaks, "Front desk reads the signed consent:\n  " + "\n  ".join(leaks)
