"""The bad-input sweep: every form gets hostile and malformed values.

For each value the rule is the same: never a 500; either a clear refusal (4xx, or the form
back with an error) that writes nothing, or an accepted value that is stored as given.
Values that can never be valid for a field (a NUL byte, 100k characters, an impossible
date or number) must be refused.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.apps import apps
from django.test import Client as HttpClient
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from plans import models
from plans.forms.clients import ClientIntakeForm
from plans.services import booking, clients
from tests.helpers.clock import at
from tests.helpers.forms import ADD_URL, full_form, intake
from tests.helpers.plans import plan_to_book
from tests.helpers.records import record_post
from tests.helpers.sweeps import FLASHED, record_flashes, refused
from tests.plans.factories import NO_TO_ALL

LONG = "x" * 100_000
# Never valid anywhere: the form must refuse them.
INVALID = {
    "nul": "Ro\x00sa",
    "long": LONG,
}
# Odd but possibly legitimate free text: stored escaped, or refused; never a crash.
ODD = {
    "html": "<script>alert(1)</script><img src=x onerror=alert(1)>",
    "sql": "'; DROP TABLE plans_client; -- \" OR 1=1",
    "rtl": "\u202eevil\u202c \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "emoji": "\U0001f600\U0001f469\u200d\U0001f52c\ufe0f",
    "control": "a\x01\x07\x1b[31mb\r\n\t",
    "empty": "",
    "blank": "   ",
}
# Bad in a date, number or choice field.
TYPED = {
    "feb30": "2026-02-30",
    "year0": "0000-01-01",
    "year99999": "99999-01-01",
    "iso-junk": "2026-13-45T25:61",
    "negative": "-1",
    "huge": "9" * 400,
    "float-huge": "1e308",
    "nan": "NaN",
    "inf": "Infinity",
    "json-list": "[]",
    "json-obj": '{"a": 1}',
}
CORPUS = {**INVALID, **ODD, **TYPED}
# The admin form has ~50 fields and each post renders every inline: one value of each family
# keeps the sweep to seconds while still hitting text, date, number and structure parsing.
SHORT_CORPUS = {
    key: CORPUS[key] for key in ("nul", "long", "html", "control", "feb30", "huge", "negative", "json-list")
}
# A wrong type: a field sent as a list of values (the test client posts each one).
LISTY = ["1", "2", "<b>"]

# Tables whose rows a refused request must leave exactly as they were.
WATCHED = [
    "plans.Client",
    "plans.Screening",
    "plans.ScreeningAnswer",
    "plans.TreatmentPlan",
    "plans.PlanSession",
    "plans.Message",
    "plans.Protocol",
    "plans.ContraindicationRule",
    "plans.CombinationTreatment",
    "plans.CareNote",
    "plans.ReminderLead",
]


def snapshot() -> dict:
    state = {}
    for label in WATCHED:
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        state[label] = list(model.objects.order_by("pk").values())
    return state


@pytest.fixture(autouse=True)
def _record_flashes(monkeypatch):
    record_flashes(monkeypatch)
    yield
    FLASHED.clear()


class Sweep:
    """Posts each corpus value into each field and collects every broken rule before failing."""

    def __init__(self, client: HttpClient):
        self.client = client
        self.problems: list[str] = []

    def post(self, url: str, data: dict, label: str, must_refuse: bool, accepted=None, **extra):
        before = snapshot()
        FLASHED.clear()
        try:
            response = self.client.post(url, data, **extra)
        except Exception as exc:  # the test client re-raises what would have been a 500
            self.problems.append(f"{label}: crashed with {type(exc).__name__}: {str(exc)[:200]}")
            return None
        if response.status_code >= 500:
            self.problems.append(f"{label}: answered {response.status_code}")
            return response
        if "/login/" in response.get("Location", ""):
            self.problems.append(f"{label}: sent to the login page (the test lost its login)")
            return response
        if refused(response):
            if snapshot() != before:
                self.problems.append(f"{label}: refused but wrote rows")
        elif must_refuse:
            self.problems.append(f"{label}: accepted an invalid value (status {response.status_code})")
        elif accepted is not None:
            accepted(response)
        return response

    def fields(self, url, valid: dict, fields, *, invalid_for=None, reset=None, corpus=None, lists=True, **extra):
        """Each field × each corpus value, the other fields valid; then each field missing and list-valued."""
        invalid_for = invalid_for or (lambda field, key: key in INVALID)
        for field in fields:
            for key, value in (corpus or CORPUS).items():
                self.post(url, {**valid, field: value}, f"{field}={key}", invalid_for(field, key), **extra)
                if reset:
                    reset()
            self.post(url, {k: v for k, v in valid.items() if k != field}, f"{field} missing", False, **extra)
            if lists:
                self.post(url, {**valid, field: LISTY}, f"{field} as a list", False, **extra)
            if reset:
                reset()

    def fields_together(self, url, valid: dict, fields, values: dict, *, reset=None, **extra):
        """Each value in every field of one form at once (the protocol's own fields, or one inline's
        first row): for values that must only never crash, where a post per field would cost minutes
        on a page as heavy as the admin's. Fields that fail still leave the others to be cleaned, and
        the model's clean() then runs on what is left, so each field's parsing is still reached."""
        groups: dict[str, list[str]] = {}
        for field in fields:
            groups.setdefault(field.split("-")[0] if "-" in field else "", []).append(field)
        for group, members in groups.items():
            for key, value in {**values, "list": LISTY}.items():
                self.post(url, {**valid, **dict.fromkeys(members, value)}, f"{group or 'protocol'} fields={key}",
                          False, **extra)  # fmt: skip
                if reset:
                    reset()

    def check(self):
        assert not self.problems, "\n".join(self.problems)


# --- Client intake and edit ---------------------------------------------------------------------------

FREE_TEXT = {"first_name", "last_name", "phone", "notes"}


def intake_invalid(field: str, key: str) -> bool:
    if field == "email_consent":
        return False  # a checkbox: any text, even a NUL, just means "ticked"
    if key in INVALID:
        return True  # notes included: the clients service takes at most NOTES_MAX_LENGTH characters
    if field in FREE_TEXT:
        return False
    # Dates, email, choices and yes/no answers take none of the odd or typed values (an empty optional is fine).
    optional = {"phone", "notes", "email_consent", "screen_isotretinoin_date", "email"}
    return not (key in ("empty", "blank") and (field in optional or field.endswith("_date")))


@pytest.fixture
def staff(client, aesthetician):
    client.force_login(aesthetician)
    return client


def test_client_intake_and_edit_survive_hostile_values(staff, protocol):
    fields = [name for name in ClientIntakeForm().fields]
    sweep = Sweep(staff)
    sweep.fields(reverse("client-create"), intake(), fields, invalid_for=intake_invalid)
    staff.post(reverse("client-create"), intake())
    person = models.Client.objects.order_by("-pk").first()
    sweep.fields(reverse("client-edit", args=[person.pk]), intake(), fields, invalid_for=intake_invalid)
    sweep.check()


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=0, max_size=300))
def test_any_unicode_name_is_stored_exactly_or_refused_cleanly(staff, protocol, text):
    before = models.Client.objects.count()
    response = staff.post(reverse("client-create"), intake(first_name=text, last_name="Test"))
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        # Stored as the one name cleaner makes it (direction and zero-width characters removed).
        stored = models.Client.objects.order_by("-pk").first()
        assert stored.first_name == clients.clean_name(text)
        stored.delete()
    else:
        assert response.context["form"].errors
        assert models.Client.objects.count() == before


# --- Plan preview, accept, recompute --------------------------------------------------------------


@pytest.fixture
def screened_client(protocol, aesthetician):
    from plans.services import clients
    from tests.factories import ClientFactory

    person = ClientFactory()
    clients.screening_record(client=person, answers=dict(NO_TO_ALL), screened_by=aesthetician)
    return person


def test_plan_preview_accept_and_recompute_survive_hostile_values(staff, screened_client):
    start = (dt.date.today() + dt.timedelta(days=7)).isoformat()
    url = reverse("plan-new", args=[screened_client.pk])
    problems = []
    for key, value in {**CORPUS, "list": LISTY}.items():
        for field in ("start", "combinations"):
            try:
                response = staff.get(url, {"start": start, field: value})
            except Exception as exc:
                problems.append(f"preview {field}={key}: {type(exc).__name__}: {exc}"[:300])
                continue
            if response.status_code >= 500:
                problems.append(f"preview {field}={key}: {response.status_code}")
            assert models.TreatmentPlan.objects.count() == 0
    sweep = Sweep(staff)
    valid = {"start": start, "token": "tok-1", "acknowledge_review": "on"}
    sweep.fields(
        url,
        valid,
        ["start", "token", "combinations", "acknowledge_review"],
        invalid_for=lambda field, key: field == "start" or (field == "token" and key in INVALID),
        reset=lambda: models.TreatmentPlan.objects.all().delete(),
    )
    staff.post(url, valid)
    plan = models.TreatmentPlan.objects.get()
    sweep.fields(
        reverse("plan-recompute", args=[plan.pk]),
        {"start": start},
        ["start", "combinations"],
        invalid_for=lambda field, key: field == "start",
    )
    sweep.problems += problems
    sweep.check()


# --- Booking --------------------------------------------------------------------------------------

MON = dt.date(2027, 3, 1)


@pytest.fixture
def frozen_clock():
    with time_machine.travel(at(dt.date(2027, 2, 1), 8), tick=False) as traveller:
        yield traveller


@pytest.fixture
def booking_world(clinic, frozen_clock):
    plan = plan_to_book(first_target=MON, count=3)
    first, second, third = plan.sessions.order_by("sequence")
    booked = booking.session_book(session=first, starts_at=at(MON, 10), practitioner=clinic["ana"])
    booking.session_book(session=second, starts_at=at(MON + dt.timedelta(days=28), 10), practitioner=clinic["ana"])
    return {"plan": plan, "booked": booked, "unbooked": third, "clinic": clinic}


@pytest.fixture
def booker(client, aesthetician, booking_world):
    """Logged in after the clock moved: a session from the real "now" would have expired by 2027."""
    client.force_login(aesthetician)
    return client


def slot_invalid(field, key):
    if field == "starts_at":
        return key not in ()  # no corpus value is a wall-clock time
    if field == "practitioner":
        return True
    if field == "room":
        return key not in ("empty", "blank")
    if field == "override_reason":
        return key in INVALID
    if field == "cascade":
        # An empty list is a valid "no later session needs to move".
        return key not in ("empty", "json-list") and key in {*INVALID, *TYPED, "html", "sql", "rtl", "emoji", "control"}
    return key in INVALID


def test_session_book_reschedule_cancel_complete_survive_hostile_values(booker, booking_world):
    w = booking_world
    ana = w["clinic"]["ana"]
    third = w["unbooked"]
    slot = {"starts_at": "2027-03-31T10:00", "practitioner": str(ana.pk), "room": "", "override_reason": ""}
    sweep = Sweep(booker)
    sweep.fields(reverse("session-book", args=[third.pk]), slot, list(slot), invalid_for=slot_invalid,
                 reset=lambda: _unbook(third))  # fmt: skip
    booked = w["booked"]
    move = {**slot, "starts_at": "2027-03-02T10:00"}
    sweep.fields(reverse("session-reschedule", args=[booked.pk]), {**move, "cascade": ""}, [*slot, "cascade"],
                 invalid_for=slot_invalid)  # fmt: skip
    # A cascade list whose rows are the wrong shape or point at other sessions.
    for label, cascade in {
        "cascade of a stranger": json.dumps([{"session": 999999, "start": "2027-03-30T10:00:00+01:00"}]),
        "cascade naive start": json.dumps([{"session": w["booked"].pk, "start": "2027-03-30T10:00"}]),
        "cascade year 0": json.dumps([{"session": w["booked"].pk, "start": "0000-03-30T10:00"}]),
        "cascade huge id": json.dumps([{"session": 10**30, "start": "2027-03-30T10:00:00+00:00"}]),
        "cascade nul": json.dumps([{"session": w["booked"].pk, "start": "2027-03-30T10:00\x00"}]),
        "cascade not rows": json.dumps([1, 2, 3]),
        "cascade dict": json.dumps({"session": 1}),
        "cascade nested": "[" * 5000 + "]" * 5000,
    }.items():
        sweep.post(reverse("session-reschedule", args=[booked.pk]), {**move, "cascade": cascade}, label, False)
    # Override reason past its limit, and an override far outside the window.
    sweep.post(reverse("session-reschedule", args=[booked.pk]),
               {**move, "starts_at": "2099-12-31T10:00", "override_reason": LONG}, "override long", True)  # fmt: skip
    cancel = {"by_client": "1", "reason": "Client ill"}
    sweep.fields(reverse("session-cancel", args=[booked.pk]), cancel, list(cancel),
                 invalid_for=lambda f, k: k in INVALID or (f == "by_client") or (k in ("empty", "blank")),
                 reset=lambda: _rebook(booked))  # fmt: skip
    complete = record_post(booked) | {"notes": "fine", "immediate_reaction": "mild redness"}
    free_text = ("notes", "immediate_reaction")
    sweep.fields(reverse("session-complete", args=[booked.pk]), complete, list(complete),
                 invalid_for=lambda f, k: k in INVALID if f in free_text else k not in ("empty", "blank"),
                 reset=lambda: _rebook(booked))  # fmt: skip
    sweep.check()


def _unbook(session):
    session.refresh_from_db()
    if session.status != "proposed":
        models.Message.objects.filter(session=session).delete()
        models.PlanSession.objects.filter(pk=session.pk).update(
            status="proposed", starts_at=None, ends_at=None, blocked_until=None, practitioner=None, room=None
        )


def _rebook(session):
    fresh = models.PlanSession.objects.get(pk=session.pk)
    if fresh.status != "booked":
        models.PlanSession.objects.filter(pk=session.pk).update(
            status="booked", starts_at=session.starts_at, ends_at=session.ends_at,
            blocked_until=session.blocked_until, completed_at=None, cancel_reason="",
        )  # fmt: skip
        # A test's reset, not the app's: a signed record is never removed by the app.
        models.TreatmentRecord.objects.filter(session_id=session.pk).delete()
        models.ClinicalOverride.objects.filter(session_id=session.pk).delete()


def test_plan_book_preferences_and_book_all_survive_hostile_values(booker, booking_world):
    w = booking_world
    plan = plan_to_book(first_target=MON + dt.timedelta(days=7), count=2)
    url = reverse("plan-book", args=[plan.pk])
    problems = []
    for key, value in {**CORPUS, "list": LISTY}.items():
        for field in ("practitioner", "weekdays", "part_of_day"):
            query = {"propose": "1", "practitioner": str(w["clinic"]["ana"].pk), "part_of_day": "any", field: value}
            try:
                response = booker.get(url, query)
            except Exception as exc:
                problems.append(f"propose {field}={key}: {type(exc).__name__}: {exc}"[:300])
                continue
            if response.status_code >= 500:
                problems.append(f"propose {field}={key}: {response.status_code}")
    page = booker.get(url, {"propose": "1", "practitioner": w["clinic"]["ana"].pk, "part_of_day": "any"})
    good = json.loads(page.context["proposal_form"].initial["proposal"])
    sweep = Sweep(booker)
    sweep.problems += problems
    for key, value in {**CORPUS, "list": LISTY}.items():
        sweep.post(url, {"action": "book", "proposal": value}, f"proposal={key}", True)
    for row_field in ("session", "practitioner", "room", "start", "end", "blocked_until"):
        for key, value in CORPUS.items():
            rows = [dict(r) for r in good]
            rows[0][row_field] = value
            sweep.post(url, {"action": "book", "proposal": json.dumps(rows)}, f"proposal.{row_field}={key}", True)
        rows = [dict(r) for r in good]
        del rows[0][row_field]
        sweep.post(url, {"action": "book", "proposal": json.dumps(rows)}, f"proposal.{row_field} missing", True)
    # Rows that parse but lie: another plan's session, a naive time, an end before the start.
    other = w["unbooked"].pk
    for label, change in {
        "another plan's session": {"session": other},
        "naive start": {"start": "2027-03-08T10:00", "end": "2027-03-08T11:00", "blocked_until": "2027-03-08T11:15"},
        "end before start": {"end": "2000-01-01T00:00:00+00:00"},
        "huge practitioner": {"practitioner": 10**30},
        "negative room": {"room": -1},
    }.items():
        rows = [dict(r) for r in good]
        rows[0].update(change)
        sweep.post(url, {"action": "book", "proposal": json.dumps(rows)}, label, True)
    sweep.post(url, {"action": "book", "proposal": json.dumps(good * 50)}, "every row fifty times", True)
    sweep.post(url, {"action": "book", "proposal": json.dumps([])}, "empty proposal", True)
    sweep.check()
    assert not plan.sessions.filter(status="booked").exists()


@hsettings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payload=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=15), children, max_size=6),
        max_leaves=20,
    )
)
def test_any_json_as_a_proposal_is_refused_without_a_crash(booker, booking_world, payload):
    plan = booking_world["plan"]
    before = snapshot()
    response = booker.post(reverse("plan-book", args=[plan.pk]), {"action": "book", "proposal": json.dumps(payload)})
    assert response.status_code == 302
    assert snapshot() == before


def test_session_no_show_on_a_future_session_is_refused_and_changes_nothing(booker, booking_world):
    booked = booking_world["booked"]
    before = snapshot()
    response = booker.post(reverse("session-no-show", args=[booked.pk]), {"junk": LONG, "x": "\x00"})
    assert response.status_code in (302, 400)
    assert snapshot() == before


# --- Messages and public links -------------------------------------------------------------------


def test_message_resend_and_public_links_survive_hostile_values(booker, booking_world):
    message = models.Message.objects.filter(session=booking_world["booked"]).first()
    sweep = Sweep(booker)
    for key, value in {**CORPUS, "list": LISTY}.items():
        sweep.post(reverse("message-resend", args=[message.pk]), {"next": value}, f"resend next={key}", False)
    anonymous = HttpClient()
    public = Sweep(anonymous)
    for name in ("public-confirm", "public-cancel", "public-unsubscribe"):
        for key, token in {**ODD, "long": "x" * 2000, "signed-junk": "abc:def:ghi", "dots": "..%2F..%2Fetc"}.items():
            if not token.strip() or "/" in token:
                continue
            url = reverse(name, args=[token])
            public.post(url, {"List-Unsubscribe": value_or(key)}, f"{name} token={key}", True)
    sweep.check()
    public.check()


def value_or(key):
    return CORPUS.get(key, "One-Click")


# --- The admin's protocol form with its inlines -------------------------------------------------------


@pytest.fixture
def admin_client(client, clinic_admin, default_protocols, monkeypatch):
    client.force_login(clinic_admin)
    # The test client copies the context of every template a page renders, and the admin's form
    # renders hundreds (a template per widget): copying them took most of this sweep's minutes.
    # refused() reads only the page's own context, the first one rendered, so keep just that one.
    from django.test import client as test_client

    keep_all = test_client.store_rendered_templates

    def keep_first(store, signal, sender, template, context, **kwargs):
        if "context" not in store:
            keep_all(store, signal, sender, template, context, **kwargs)

    monkeypatch.setattr(test_client, "store_rendered_templates", keep_first)
    return client


def test_admin_protocol_add_form_survives_hostile_values(admin_client):
    valid = full_form()
    fields = [k for k in valid if k != "_save" and not k.endswith(("TOTAL_FORMS", "INITIAL_FORMS", "NUM_FORMS"))]
    # Every protocol field, and the first row of each inline: later rows share its form class.
    fields = [k for k in fields if "-" not in k or "-0-" in k]
    sweep = Sweep(admin_client)
    text_ok = {"name", "description", "depth_notes", "maintenance_note", "code"}

    checkboxes = {"active", "optional", "books_appointment", "include_pre_care"}

    def invalid(field, key):
        base = field.split("-")[-1]
        if base in checkboxes:
            return False  # any text, even a NUL, just means "ticked"
        if key in INVALID:
            return not (key == "long" and base in {"description", "depth_notes", "maintenance_note", "explanation",
                                                   "instructions", "body"})  # fmt: skip
        return False

    defaults = set(models.Protocol.objects.values_list("pk", flat=True))
    reset = lambda: models.Protocol.objects.exclude(pk__in=defaults).delete()  # noqa: E731
    # One post per field for what must be refused; what must only not crash, a form at a time.
    sweep.fields(ADD_URL, valid, fields, invalid_for=invalid, corpus=INVALID, reset=reset, lists=False)
    sweep.fields_together(ADD_URL, valid, fields, {k: v for k, v in SHORT_CORPUS.items() if k not in INVALID},
                          reset=reset)  # fmt: skip
    # Management forms that lie about the number of rows.
    for label, change in {
        "total huge": {"care_notes-TOTAL_FORMS": "99999999"},
        "total negative": {"care_notes-TOTAL_FORMS": "-5"},
        "total text": {"care_notes-TOTAL_FORMS": "<b>"},
        "initial too many": {"care_notes-INITIAL_FORMS": "7"},
    }.items():
        sweep.post(ADD_URL, {**valid, **change}, label, True)
    del text_ok
    sweep.check()


# --- Double submit ------------------------------------------------------------------------------------


def test_posting_the_same_book_all_twice_books_once_and_says_so_the_second_time(booker, booking_world):
    plan = plan_to_book(first_target=MON + dt.timedelta(days=7), count=2)
    url = reverse("plan-book", args=[plan.pk])
    page = booker.get(url, {"propose": "1", "practitioner": booking_world["clinic"]["ana"].pk, "part_of_day": "any"})
    data = {"action": "book", "proposal": page.context["proposal_form"].initial["proposal"]}
    first = booker.post(url, data)
    assert first.status_code == 302 and "calendar" in first["Location"]
    before = snapshot()
    second = booker.post(url, data, follow=True)
    assert snapshot() == before
    assert plan.sessions.filter(status="booked").count() == 2
    shown = [str(m) for m in second.context["messages"]]
    assert any("Nothing was booked" in m and "already booked" in m for m in shown), shown
