"""Demo data for `make run`: staff and logins, rooms, hours, a closure, clients covering every protocol.

Idempotent: every row is matched by a natural key (username, room name, client email,
closure reason) and only created when missing, so running it twice creates nothing new
and never overwrites what someone changed while trying the app. Clients, screenings and
the closure are written by the same services as the app's pages, so the demo data keeps
their rules and has its audit history (screening answers included).
"""

from __future__ import annotations

import datetime as dt
import io
import random
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from plans import models, scheduling, selectors
from plans.consent_defaults import load_default_consents
from plans.defaults import load_default_protocols
from plans.management.demo_outcomes import demo_outcomes
from plans.roles import AESTHETICIAN, CLINIC_ADMIN, CLINICIAN, FRONT_DESK
from plans.services import booking, safety
from plans.services import consent as consent_services
from plans.services import photos as photo_services
from plans.services import plans as plan_services
from plans.services.availability import time_off_save
from plans.services.clients import client_create, screening_record
from plans.services.outcomes import load_default_outcome_items
from plans.services.security import user_set_role

ADMIN_LOGIN = ("admin", "clinic-admin-demo")
AESTHETICIAN_LOGIN = ("aesthetician", "clinic-demo-pass")
# The prescriber who signs off review items, decides holds and overrides clinical rules.
CLINICIAN_LOGIN = ("clinician", "clinic-demo-pass")
# Clients whose plan is accepted and booked, so the calendar, Today and the mail folder have
# something to show on a first `make run` (email -> the practitioner who treats them).
BOOKED_PLANS = {"emma.clarke@example.com": "alex", "kwame.mensah@example.com": "sam", "sophie.hart@example.com": "alex"}
# So that Today has something on the first run: a first visit at the next free hour of the
# day (or the next working day), and an accepted plan still to book, in the worklist.
VISIT_SOON = "aisha.khan@example.com"
PLAN_TO_BOOK = "margaret.lewis@example.com"
CLOSURE_REASON = "Demo: clinic closed for staff training"

WEEKDAYS = range(0, 5)


@dataclass(frozen=True)
class DemoClient:
    first_name: str
    last_name: str
    age: int
    fitzpatrick: int
    oiliness: str
    pore_concern: str
    notes: str
    # Screening answers that are "yes": question code -> days ago it last happened (None: no date).
    yes: dict[str, int | None] = field(default_factory=dict)

    @property
    def email(self) -> str:
        return f"{self.first_name}.{self.last_name}@example.com".lower()


DEMO_CLIENTS = [
    DemoClient("Emma", "Clarke", 34, 2, "normal", "mild", "Expected protocol: P1 (mild, type II)."),
    DemoClient("Olivia", "Bennett", 29, 1, "combination", "severe", "Expected protocol: P2 (severe, type I)."),
    DemoClient("Kwame", "Mensah", 41, 5, "combination", "moderate", "Expected protocol: P3 (type V)."),
    DemoClient("Sophie", "Hart", 24, 3, "oily", "moderate", "Expected protocol: P4 (oily, acne-prone)."),
    DemoClient("Margaret", "Lewis", 62, 2, "dry", "moderate", "Expected protocol: P5 (62, dry skin)."),
    DemoClient(
        "Chloe",
        "Martin",
        31,
        2,
        "normal",
        "mild",
        "Pregnant: a hard stop, no plan until after breastfeeding.",
        yes={"pregnant_or_nursing": None},
    ),
    DemoClient(
        "Daniel",
        "Reyes",
        22,
        3,
        "oily",
        "mild",
        "Finished isotretinoin two months ago: the start is deferred.",
        yes={"isotretinoin_past": 60},
    ),
    DemoClient(
        "Aisha",
        "Khan",
        38,
        4,
        "normal",
        "mild",
        "Cold sores: needs clinician review for antiviral cover.",
        yes={"herpes_history": None},
    ),
]


def _born(age: int, today: dt.date) -> dt.date:
    """A date of birth that makes the client `age` today (birthday 40 days ago)."""
    anniversary = today - dt.timedelta(days=40)
    try:
        return anniversary.replace(year=anniversary.year - age)
    except ValueError:  # 29 February in a non-leap year
        return anniversary.replace(year=anniversary.year - age, day=28)


class Command(BaseCommand):
    help = "Create demo staff, logins, rooms, working hours, a closure and clients (idempotent)."

    def handle(self, *args, **options):
        with transaction.atomic():
            protocols = load_default_protocols()
            load_default_outcome_items()  # the pore-grade anchors and the client's questions
            created: list[str] = [f"protocol {code}" for code in protocols.protocols_created]
            created += [f"consent form {kind}" for kind in load_default_consents()]
            self._user(*ADMIN_LOGIN, created, first_name="Maria", last_name="Admin", role=CLINIC_ADMIN, superuser=True)
            alex = self._user(*AESTHETICIAN_LOGIN, created, first_name="Alex", last_name="Morgan", role=AESTHETICIAN)
            sam = self._user(
                "sam", AESTHETICIAN_LOGIN[1], created, first_name="Sam", last_name="Patel", role=AESTHETICIAN
            )
            self._user(
                "frontdesk", AESTHETICIAN_LOGIN[1], created, first_name="Fiona", last_name="Reid", role=FRONT_DESK
            )
            kay = self._user(*CLINICIAN_LOGIN, created, first_name="Kay", last_name="Adeyemi", role=CLINICIAN)
            self._practitioner(alex, "Alex Morgan", "#2f6f8f", {day: ("09:00", "17:30") for day in WEEKDAYS}, created)
            self._practitioner(
                sam,
                "Sam Patel",
                "#8f4a2f",
                {**{day: ("10:00", "18:00") for day in WEEKDAYS}, 5: ("09:00", "13:00")},
                created,
            )
            for name in ("Treatment room 1", "Treatment room 2"):
                if models.Room.objects.get_or_create(name=name)[1]:
                    created.append(f"room {name}")
            self._closure(created)
            self._kit(created)
            clients = {
                spec.email: self._client(spec, phone=f"+44 7700 900{index:03d}", screened_by=alex, created=created)
                for index, spec in enumerate(DEMO_CLIENTS, start=1)
            }
            practitioners = {p.user_id: p for p in models.Practitioner.objects.filter(user__in=[alex, sam])}
            for email, who in BOOKED_PLANS.items():
                practitioner = practitioners[(alex if who == "alex" else sam).pk]
                self._booked_plan(clients[email], practitioner, made_by=alex, clinician=kay, created=created)
            self._visit_soon(clients[VISIT_SOON], practitioners[alex.pk], made_by=alex, clinician=kay, created=created)
            self._plan(clients[PLAN_TO_BOOK], made_by=alex, clinician=kay, created=created)
            self._intake(created)
            # Last: photos are taken of whatever visits the demo completed above.
            demo_photos(witness=alex, created=created)
            # After the photos (past clients have no photo consent): a year of outcomes for the report.
            demo_outcomes(practitioners=list(practitioners.values()), rated_by=kay, created=created)
        for line in created:
            self.stdout.write(f"Created {line}")
        if not created:
            self.stdout.write("Demo data already present; nothing changed.")

    def _intake(self, created):
        """Two callers emailed the new-client forms: one yet to answer, one whose answers came back
        with a yes the rules act on (the list and Today show "needs a call"). Through the services,
        so the demo writes what the pages would."""
        from plans.services import intake

        desk = get_user_model().objects.get(username="frontdesk")
        callers = (
            ("Lena", "Fischer", "lena.fischer@example.com", False),
            ("Omar", "Haddad", "omar.haddad@example.com", True),
        )
        for first_name, last_name, email, answered in callers:
            if models.IntakeInvitation.objects.filter(email=email).exists():
                continue
            invitation = intake.intake_invite(first_name=first_name, last_name=last_name, email=email, by=desk)
            created.append(f"intake invitation {email}")
            if answered:
                screening = {q.code: (False, None) for q in models.ScreeningQuestion.objects.filter(active=True)}
                screening["herpes_history"] = (True, None)
                intake.intake_submit(
                    invitation=invitation,
                    date_of_birth=_born(34, timezone.localdate()),
                    phone="+44 7700 900990",
                    email_consent=True,
                    oiliness="combination",
                    pore_concern="moderate",
                    screening=screening,
                )

    def _user(self, username, password, created, *, first_name, last_name, role, superuser=False):
        User = get_user_model()
        user, was_created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first_name,
                "last_name": last_name,
                "email": f"{username}@clinic.example",
                "is_staff": superuser,
                "is_superuser": superuser,
            },
        )
        if was_created:
            user.set_password(password)
            user.save(update_fields=["password"])
            created.append(f"login {username}")
        elif not user.check_password(password):
            self.stderr.write(
                self.style.WARNING(f"User {username} already exists with another password; left unchanged.")
            )
        if not user.groups.filter(name=role).exists():
            user_set_role(user=user, role=role)
        return user

    def _kit(self, created):
        """A pen and lots, so a treatment record can be signed off on the first run (the admin manages them)."""
        today = timezone.localdate()
        _device, was_created = models.Device.objects.get_or_create(
            serial_number="DP4-DEMO-001", defaults={"name": "Dermapen 4", "last_serviced_on": today.replace(day=1)}
        )
        if was_created:
            created.append("device Dermapen 4")
        lots = [
            (models.LotKind.CARTRIDGE, "16-pin nano cartridge", "C-2411"),
            (models.LotKind.CARTRIDGE, "36-pin cartridge", "C-2502"),
            (models.LotKind.PRODUCT, "Hyaluronic glide serum", "HA-0917"),
        ]
        for kind, product, number in lots:
            _lot, was_created = models.Lot.objects.get_or_create(
                kind=kind, product=product, lot_number=number,
                defaults={"expires_on": today.replace(year=today.year + 2, day=1)},
            )  # fmt: skip
            if was_created:
                created.append(f"lot {number}")

    def _practitioner(self, user, display_name, color, hours, created):
        practitioner, was_created = models.Practitioner.objects.get_or_create(
            user=user, defaults={"display_name": display_name, "color": color}
        )
        if was_created:
            created.append(f"practitioner {display_name}")
        for weekday, (start, end) in hours.items():
            _, made = models.WorkingHours.objects.get_or_create(
                practitioner=practitioner,
                weekday=weekday,
                start=dt.time.fromisoformat(start),
                end=dt.time.fromisoformat(end),
            )
            if made:
                created.append(f"working hours {display_name} {models.Weekday(weekday).label} {start}-{end}")

    def _closure(self, created):
        if models.TimeOff.objects.filter(practitioner=None, room=None, reason=CLOSURE_REASON).exists():
            return
        # A Wednesday about three weeks out, so it shows up while booking demo plans.
        today = timezone.localdate()
        day = today + dt.timedelta(days=21 + (2 - today.weekday()) % 7)
        zone = timezone.get_current_timezone()
        time_off_save(
            time_off=models.TimeOff(
                starts_at=dt.datetime.combine(day, dt.time(0, 0), zone),
                ends_at=dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), zone),
                reason=CLOSURE_REASON,
            )
        )
        created.append(f"clinic closure on {day:%a %d %b %Y}")

    def _plan(self, client, *, made_by, clinician, created, start=None):
        """An accepted plan (review items signed off by the clinician), nothing booked; None if the client has one."""
        if client.plans.exists():
            return None
        start = start or plan_services.plan_suggested_start(client=client).start
        plan = plan_services.plan_create(client=client, start=start, created_by=made_by)
        for item in plan.review_items:
            safety.review_signoff(
                plan=plan, question_code=item["question_code"], note="Demo: discussed at consultation", by=clinician
            )
        created.append(f"plan for {client}")
        return plan

    def _visit_soon(self, client, practitioner, *, made_by, clinician, created):
        """Session 1 at the next whole hour the practitioner works, today if the day allows."""
        now = timezone.localtime()
        for days in range(0, 8):
            day = now.date() + dt.timedelta(days=days)
            hours = practitioner.working_hours.filter(weekday=day.weekday()).first()
            if hours is None:
                continue
            first = dt.datetime.combine(day, hours.start, tzinfo=now.tzinfo)
            if days == 0:
                first = max(first, (now + dt.timedelta(hours=1)).replace(minute=0, second=0, microsecond=0))
            if first + dt.timedelta(hours=1) <= dt.datetime.combine(day, hours.end, tzinfo=now.tzinfo):
                break
        else:
            return
        plan = self._plan(client, made_by=made_by, clinician=clinician, created=created, start=first.date())
        if plan is None:
            return
        try:
            booking.session_book(
                session=plan.sessions.get(sequence=1),
                starts_at=first,
                practitioner=practitioner,
                override_reason="Demo: the client asked to start as soon as possible",
                by=made_by,
            )
        except booking.BookingError as refused:  # e.g. the demo closure falls on that day
            created.append(f"first visit of {client} not booked: {refused}")
            return
        created.append(f"first visit of {client} at {first:%a %d %b %H:%M}")

    def _booked_plan(self, client, practitioner, *, made_by, clinician, created):
        """A plan from the suggested start, review items signed off by the clinician, every visit booked."""
        plan = self._plan(client, made_by=made_by, clinician=clinician, created=created)
        if plan is None:
            return
        proposal = booking.series_propose(
            plan=plan, preferences=scheduling.Preferences(practitioner_id=practitioner.pk)
        )
        if proposal.result.ok:
            booking.series_book(plan=plan, proposal=proposal.result.bookings, by=made_by)
            created.append(f"booked plan for {client}")
        else:
            created.append(f"plan for {client} (not booked: {proposal.result.problem})")

    def _client(self, spec: DemoClient, *, phone, screened_by, created):
        today = timezone.localdate()
        answers = {
            question.code: (
                question.code in spec.yes,
                today - dt.timedelta(days=spec.yes[question.code]) if spec.yes.get(question.code) is not None else None,
            )
            for question in models.ScreeningQuestion.objects.filter(active=True)
        }
        client = models.Client.objects.filter(email__iexact=spec.email).first()
        if client is None:
            client = client_create(
                first_name=spec.first_name,
                last_name=spec.last_name,
                phone=phone,
                email=spec.email,
                date_of_birth=_born(spec.age, today),
                fitzpatrick=spec.fitzpatrick,
                oiliness=spec.oiliness,
                pore_concern=spec.pore_concern,
                email_consent=True,
                notes=spec.notes,
                screening=answers,
                screened_by=screened_by,
            )
            created.append(f"client {client}")
            created.append(f"screening of {client}")
        elif not client.screenings.exists():
            screening_record(client=client, answers=answers, screened_by=screened_by)
            created.append(f"screening of {client}")
        return client


# --- Demo photos ------------------------------------------------------------------------------
# Drawn with Pillow: a face at each standard angle whose pores (dots) thin out visit by visit,
# so the before/after slider has something to show. Only for clients with a photo consent.

PHOTO_CONSENT_CLIENT = "emma.clarke@example.com"


def _demo_signature() -> bytes:
    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    ImageDraw.Draw(image).line(
        [(40, 150), (140, 60), (240, 140), (340, 60), (460, 140), (560, 90)], fill="#111", width=5
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _demo_face(view_code: str, visit: int, seed: int) -> bytes:
    """A 600x800 face-like drawing: turned for the 45° views, fewer visible pores at each later visit."""
    rng = random.Random(seed)
    image = Image.new("RGB", (600, 800), (58, 66, 80))
    draw = ImageDraw.Draw(image)
    shift = {"left-45": -70, "right-45": 70}.get(view_code, 0)
    width = 300 if shift == 0 else 250
    left = 300 - width // 2 + shift
    draw.ellipse((left, 140, left + width, 660), fill=(232, 200, 172))
    for eye in (-55, 55):
        if shift and (eye > 0) == (shift < 0):
            continue  # the far eye is hidden at 45°
        x = 300 + shift + eye
        draw.ellipse((x - 18, 330, x + 18, 352), fill=(50, 36, 30))
    draw.arc((300 + shift - 50, 470, 300 + shift + 50, 540), 20, 160, fill=(160, 70, 70), width=5)
    for _ in range(max(260 - 70 * visit, 30)):
        x, y = rng.randint(left + 30, left + width - 30), rng.randint(380, 600)
        draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=(190, 150, 125))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def demo_photos(*, witness, created: list[str]) -> None:
    """Photos for every completed visit of a consenting client that has none of a view yet (idempotent).
    If no demo client has a photo consent, one signs it (for the clinical record only)."""
    photo_services.load_default_photo_views()
    signed = models.SignedConsent.objects.filter(kind=models.ConsentKind.PHOTO)
    if not signed.exists() and (client := models.Client.objects.filter(email=PHOTO_CONSENT_CLIENT).first()):
        consent_services.consent_sign_in_clinic(
            client=client,
            kind=models.ConsentKind.PHOTO,
            version_id=consent_services.current_version(models.ConsentKind.PHOTO).pk,
            signature_png=_demo_signature(),
            witness=witness,
            photo_uses=[models.PhotoUse.CLINICAL_RECORD],
            user_agent="Demo tablet",
        )
        created.append(f"photo consent of {client}")
    views = list(models.PhotoView.objects.filter(active=True))
    sessions = (
        models.PlanSession.objects.filter(
            status=models.SessionStatus.COMPLETED, kind__in=models.PlanSession.PHOTO_KINDS, plan__client__erased_at=None
        )
        .select_related("plan__client")
        .prefetch_related("photos")
        .order_by("plan__client_id", "starts_at")
    )
    visit_of: dict[int, int] = {}
    for session in sessions:
        client = session.plan.client
        visit = visit_of[client.pk] = visit_of.get(client.pk, -1) + 1
        if not selectors.photo_consent_allows(client=client, use=models.PhotoUse.CLINICAL_RECORD):
            continue
        have = {photo.view_id for photo in session.photos.all()}
        for view in views:
            if view.pk not in have:
                photo_services.photo_take(
                    session=session,
                    view=view,
                    data=_demo_face(view.code, visit, seed=client.pk),
                    by=witness,
                    now=session.ends_at or session.completed_at,
                )
                created.append(f"{view} photo of {client}, {session.label}")
