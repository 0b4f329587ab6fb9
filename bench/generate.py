"""Fill a PostgreSQL database with a clinic-chain-sized data set, fast (COPY).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/clinic_bench \\
        .venv/bin/python -m bench.generate --clients 100000 --practitioners 20 --rooms 20 --sessions 1000000 --years 2

What it writes (deterministic, seed 42):
- practitioners (each with a login user) working Mon-Fri 09:00-17:00, rooms;
- clients with varied names, emails and phones (no screening rows: only the benchmark's own
  clients are screened);
- treatment plans copied from one real engine proposal (same snapshot JSON, dates shifted),
  spread evenly over `--years` centred on today, and their sessions.

Booked and completed sessions sit on a slot grid that can never overlap: in each hour of a
working day, slot j belongs to practitioner j and room j, and a day takes at most 7 of its
8 hours per practitioner, so the last hour stays free for the auto-fit benchmark. Sessions
whose window finds no free slot stay proposed (no time), as they would in a clinic that is
full. The PostgreSQL exclusion constraints stay in place during the load and check every row.
COPY bypasses django-simple-history: generated rows have no history rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from dataclasses import dataclass

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")

FIRST = [
    "Ana",
    "Beatriz",
    "Carla",
    "Diana",
    "Elena",
    "Fatima",
    "Grace",
    "Hana",
    "Ines",
    "Julia",
    "Karin",
    "Lena",
    "Maria",
    "Nadia",
    "Olga",
    "Paula",
    "Rita",
    "Sara",
    "Tania",
    "Uma",
    "Vera",
    "Wanda",
    "Yara",
    "Zoe",
    "Alice",
    "Bruno",
    "Carlos",
    "David",
    "Eva",
    "Filipe",
    "Gil",
    "Hugo",
    "Ivo",
    "Joao",
    "Luis",
    "Marco",
    "Nuno",
    "Oscar",
    "Pedro",
    "Rui",
]
SYLLABLES = [
    "sil",
    "va",
    "cos",
    "ta",
    "fer",
    "rei",
    "ra",
    "men",
    "des",
    "gon",
    "cal",
    "ves",
    "mar",
    "tins",
    "lo",
    "pes",
    "ro",
    "dri",
    "gues",
    "al",
    "mei",
    "da",
    "car",
    "ne",
    "iro",
]


def last_names(rng: random.Random, n: int) -> list[str]:
    names = set()
    while len(names) < n:
        names.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize())
    return sorted(names)


class Progress:
    """One line per table, rewritten in place: rows done, rate, elapsed."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.start, self.last = label, total, time.monotonic(), 0.0

    def tick(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < 0.5:
            return
        self.last = now
        elapsed = now - self.start
        rate = done / elapsed if elapsed else 0
        pct = 100 * done / self.total if self.total else 100
        sys.stderr.write(
            f"\r  {self.label:<10} {done:>10,}/{self.total:,} {pct:5.1f}%  {rate:>9,.0f} rows/s  {elapsed:6.1f}s"
        )
        sys.stderr.flush()

    def done(self, done: int) -> None:
        self.tick(done, force=True)
        sys.stderr.write("\n")


def copy_rows(cur, table: str, columns: list[str], rows, total: int) -> int:
    progress = Progress(table.removeprefix("plans_"), total)
    n = 0
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
            if n % 5000 == 0:
                progress.tick(n)
    progress.done(n)
    return n


def next_id(cur, table: str) -> int:
    cur.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}")
    return cur.fetchone()[0]


def reset_sequence(cur, table: str) -> None:
    cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")


def make_staff(practitioners: int, rooms: int):
    from django.contrib.auth import get_user_model

    from plans.models import Practitioner, Room, WorkingHours

    User = get_user_model()
    made_p = []
    for i in range(practitioners):
        user, _ = User.objects.get_or_create(username=f"bench-p{i:02d}", defaults={"email": f"p{i}@clinic.example"})
        p, created = Practitioner.objects.get_or_create(user=user, defaults={"display_name": f"Practitioner {i:02d}"})
        if created:
            WorkingHours.objects.bulk_create(
                WorkingHours(practitioner=p, weekday=d, start=dt.time(9), end=dt.time(17)) for d in range(5)
            )
        made_p.append(p)
    made_r = [Room.objects.get_or_create(name=f"Bench room {i:02d}")[0] for i in range(rooms)]
    admin, created = User.objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True, "email": "bench@clinic.example"}
    )
    if created:
        admin.set_password("bench-admin-pass")
        admin.save()
    return made_p, made_r, admin


def screened_client(first: str, last: str, email: str, fitzpatrick: int = 2):
    """A client with a complete all-clear screening, so the engine makes a real plan without review items."""
    from plans.models import Client, Screening, ScreeningAnswer, ScreeningQuestion

    client = Client.objects.create(
        first_name=first,
        last_name=last,
        email=email,
        phone="+44 7700 900123",
        date_of_birth=dt.date(1988, 3, 14),
        fitzpatrick=fitzpatrick,
        oiliness="normal",
        pore_concern="moderate",
        email_consent=True,
    )
    screening = Screening.objects.create(client=client)
    ScreeningAnswer.objects.bulk_create(
        ScreeningAnswer(screening=screening, question=q, answer=False)
        for q in ScreeningQuestion.objects.filter(active=True)
    )
    return client


def template_plan(today: dt.date):
    """One real proposal from the engine; every generated plan copies its shape."""
    from plans.services.plans import _plan_fields, plan_preview

    client = screened_client("Template", "Bench", "template@example.com")
    proposal = plan_preview(client=client, start=today)
    if proposal.protocol is None or proposal.hard_stops:
        raise SystemExit(f"The default protocols give no plan for the template client: {proposal}")
    return proposal, _plan_fields(proposal, set())


def client_profile(i: int) -> tuple[dt.date, int, str, str]:
    """Generated client i's date of birth, Fitzpatrick type, oiliness and pore concern (the plan's
    cohort columns are computed from the same function, as plan_create records them)."""
    return (
        dt.date(1960 + i % 45, 1 + i % 12, 1 + i % 28),
        1 + i % 6,
        ("dry", "normal", "combination", "oily")[i % 4],
        ("mild", "moderate", "severe")[i % 3],
    )


def assessed(start: dt.date, series_days: int, today: dt.date) -> bool:
    """The plan's series and its 12-week assessment are behind it: completed, with outcomes."""
    return start + dt.timedelta(days=series_days + 84) < today


@dataclass(frozen=True)
class Outcome:
    baseline: int
    after: int
    gais: int
    satisfaction: int
    pih: bool


def outcome(k: int, fitzpatrick: int) -> Outcome:
    """Plan k's scores, the same on every call (its own seeded generator)."""
    rng = random.Random(k * 7919 + 7)
    baseline = rng.randint(1, 4)
    gain = rng.choice([0, 1, 1, 2])
    after = max(0, baseline - gain)
    pih = rng.random() < (0.08 if fitzpatrick >= 4 else 0.01)
    return Outcome(baseline, after, (4, 3, 2)[min(gain, 2)] if not pih else 5, min(10, 5 + 2 * gain), pih)


def satisfaction_question():
    from plans.models import AnswerType, OutcomeQuestion

    question, _ = OutcomeQuestion.objects.get_or_create(
        code="satisfaction",
        defaults={"text": "How satisfied are you with your skin overall?", "answer_type": AnswerType.SCALE_0_10},
    )
    return question


def generate(args) -> dict:
    from django.db import connection
    from django.utils import timezone

    from plans.cohorts import age_on
    from plans.models import SessionKind
    from plans.services.outcomes import summarise_outcomes

    rng = random.Random(42)
    t0 = time.monotonic()
    tz = timezone.get_current_timezone()
    today = timezone.localdate()
    half = dt.timedelta(days=round(365 * args.years / 2))
    first_day, last_day = today - half, today + half
    now = timezone.now()

    practitioners, rooms, admin = make_staff(args.practitioners, args.rooms)
    proposal, fields = template_plan(today)
    shape = proposal.sessions
    per_plan = len(shape)
    n_plans = max(1, args.sessions // per_plan)
    lanes = min(len(practitioners), len(rooms))  # slots per hour that can never collide
    # Slot length: the longest template session plus its cleanup, rounded up to 30 minutes.
    slot_minutes = -(-max(s.duration_minutes + s.buffer_minutes for s in shape) // 30) * 30
    slots_per_day = (8 * 60) // slot_minutes - 1  # of 09:00-17:00: the last slot stays free

    # The outcomes every plan past its 12-week assessment has (bench.generate.outcome), read by
    # the outcomes report and the plan preview's evidence.
    satisfaction = satisfaction_question()
    # The 12-week assessment follows the last microneedling session (later visits, such as a
    # maintenance review, do not delay it).
    series_days = (max(s.target for s in shape if s.kind == "microneedling") - proposal.requested_start).days
    raw = connection.connection  # psycopg 3 connection
    with raw.cursor() as cur:
        # Clients -------------------------------------------------------------------------
        cid0 = next_id(cur, "plans_client")
        lasts = last_names(rng, 3000)

        def clients():
            for i in range(args.clients):
                first, last = rng.choice(FIRST), rng.choice(lasts)
                yield (
                    cid0 + i,
                    first,
                    last,
                    f"{first.lower()}.{last.lower()}{i}@example.com",
                    f"+44 7{i % 1000:03d} {i:06d}",
                    *client_profile(i),
                    i % 10 != 0,
                    "",
                    now,
                    now,
                )

        copy_rows(
            cur,
            "plans_client",
            [
                "id",
                "first_name",
                "last_name",
                "email",
                "phone",
                "date_of_birth",
                "fitzpatrick",
                "oiliness",
                "pore_concern",
                "email_consent",
                "notes",
                "created_at",
                "updated_at",
            ],
            clients(),
            args.clients,
        )
        reset_sequence(cur, "plans_client")

        # Plans ---------------------------------------------------------------------------
        pid0 = next_id(cur, "plans_treatmentplan")
        span_days = (last_day - first_day).days
        snapshot = fields["protocol_snapshot"]
        # JSON serialised once: COPY's text format takes it as is.
        snap, rationale, warnings = (json.dumps(v) for v in (snapshot, fields["rationale"], fields["warnings"]))
        empty = "[]"
        starts = [first_day + dt.timedelta(days=(k * span_days) // n_plans) for k in range(n_plans)]

        plan_clients = [rng.randrange(args.clients) for _ in range(n_plans)]

        def plans():
            for k in range(n_plans):
                born, fitzpatrick, oiliness, pores = client_profile(plan_clients[k])
                yield (
                    pid0 + k,
                    cid0 + plan_clients[k],
                    fields["protocol_id"],
                    snap,
                    "completed" if assessed(starts[k], series_days, today) else "active",
                    starts[k],
                    starts[k],
                    empty,
                    rationale,
                    warnings,
                    empty,
                    # One plan in 250 waits for a clinician (a hold, or a review item to sign
                    # off): the Today worklist finds these few among every plan.
                    k % 500 == 0,
                    now if k % 500 == 250 else None,
                    False,
                    fitzpatrick,
                    age_on(born, starts[k]),
                    oiliness,
                    pores,
                    admin.id,
                    now,
                    now,
                )

        copy_rows(
            cur,
            "plans_treatmentplan",
            [
                "id",
                "client_id",
                "protocol_id",
                "protocol_snapshot",
                "status",
                "requested_start",
                "earliest_start",
                "selected_combinations",
                "rationale",
                "warnings",
                "review_items",
                "review_pending",
                "hold_opened_at",
                "adverse_event_hold",
                "cohort_fitzpatrick",
                "cohort_age",
                "cohort_oiliness",
                "cohort_pore_concern",
                "created_by_id",
                "created_at",
                "updated_at",
            ],
            plans(),
            n_plans,
        )
        reset_sequence(cur, "plans_treatmentplan")

        # Sessions ------------------------------------------------------------------------
        used: dict[dt.date, int] = {}  # day -> slots taken (hour-major over lanes)
        cap = lanes * slots_per_day
        booked = [0]

        def slot_for(earliest: dt.date, latest: dt.date):
            day = earliest
            while day <= latest:
                if day.weekday() < 5 and first_day <= day <= last_day and used.get(day, 0) < cap:
                    k = used.get(day, 0)
                    used[day] = k + 1
                    lane, hour = k % lanes, k // lanes
                    start = dt.datetime.combine(day, dt.time(9), tzinfo=tz) + dt.timedelta(minutes=hour * slot_minutes)
                    return start, practitioners[lane].id, rooms[lane].id
                day += dt.timedelta(days=1)
            return None

        origin = proposal.requested_start

        sid0 = next_id(cur, "plans_plansession")  # before COPY starts: no other query may run during it

        def sessions():
            sid = sid0
            for k in range(n_plans):
                shift = starts[k] - origin
                for s in shape:
                    earliest, target, latest = s.earliest + shift, s.target + shift, s.latest + shift
                    # Most plans book; one in five stays unbooked, like a plan still being discussed.
                    place = slot_for(target, latest) if k % 5 else None
                    if place is None:
                        status, start, end, blocked, prac, room, used_mm = (
                            "proposed",
                            None,
                            None,
                            None,
                            None,
                            None,
                            None,
                        )
                    else:
                        start, prac, room = place
                        end = start + dt.timedelta(minutes=s.duration_minutes)
                        blocked = end + dt.timedelta(minutes=s.buffer_minutes)
                        status = "completed" if start < now else "booked"
                        used_mm = s.depth_mm if status == "completed" and s.kind == SessionKind.MICRONEEDLING else None
                        booked[0] += 1
                    yield (
                        sid,
                        pid0 + k,
                        s.sequence,
                        s.kind,
                        s.title,
                        s.mn_number,
                        earliest,
                        target,
                        latest,
                        s.duration_minutes,
                        s.buffer_minutes,
                        s.depth_mm,
                        s.min_days_after_mn,
                        s.min_days_before_mn,
                        status,
                        start,
                        end,
                        blocked,
                        prac,
                        room,
                        0,
                        "",
                        used_mm,
                        "",
                        start if status == "completed" else None,
                        False,
                        "",
                        0,
                        now,
                    )
                    sid += 1

        total_sessions = copy_rows(
            cur,
            "plans_plansession",
            [
                "id",
                "plan_id",
                "sequence",
                "kind",
                "title",
                "mn_number",
                "earliest",
                "target",
                "latest",
                "duration_minutes",
                "buffer_minutes",
                "depth_mm",
                "min_days_after_mn",
                "min_days_before_mn",
                "status",
                "starts_at",
                "ends_at",
                "blocked_until",
                "practitioner_id",
                "room_id",
                "version",
                "window_override_reason",
                "depth_used_mm",
                "notes",
                "completed_at",
                "cancelled_by_client",
                "cancel_reason",
                "client_reschedules",
                "updated_at",
            ],
            sessions(),
            n_plans * per_plan,
        )
        reset_sequence(cur, "plans_plansession")

        # Outcomes ------------------------------------------------------------------------
        # A baseline score for every plan already started; for those past the 12-week
        # assessment, the assessment score with its GAIS, the client's questionnaire and, for
        # a few (mostly Fitzpatrick IV-VI), an adverse event on session 1.
        started = [k for k in range(n_plans) if starts[k] <= today]
        done = [k for k in started if assessed(starts[k], series_days, today)]
        first_session = {k: sid0 + k * per_plan for k in range(n_plans)}
        score0 = next_id(cur, "plans_outcomescore")

        def scores():
            sid = score0
            for k in started:
                o = outcome(k, client_profile(plan_clients[k])[1])
                yield (sid, pid0 + k, None, "baseline", o.baseline, None, None, "", "", admin.id, now)
                sid += 1
                if k in done_set:
                    yield (sid, pid0 + k, None, "assessment", o.after, o.gais, None, "", "", admin.id, now)
                    sid += 1

        done_set = set(done)
        columns = ["id", "plan_id", "session_id", "moment", "pore_grade", "gais", "device_measurement"]
        columns += ["device_name", "notes", "rated_by_id", "rated_at"]
        outcome_scores = copy_rows(cur, "plans_outcomescore", columns, scores(), len(started) + len(done))
        reset_sequence(cur, "plans_outcomescore")
        summarise_outcomes(range(pid0, pid0 + n_plans))  # the plans' outcome columns, as score_record keeps them
        response0 = next_id(cur, "plans_questionnaireresponse")
        copy_rows(
            cur,
            "plans_questionnaireresponse",
            ["id", "plan_id", "moment", "created_at", "submitted_at"],
            ((response0 + i, pid0 + k, "assessment", now, now) for i, k in enumerate(done)),
            len(done),
        )
        reset_sequence(cur, "plans_questionnaireresponse")
        answer0 = next_id(cur, "plans_questionnaireanswer")
        copy_rows(
            cur,
            "plans_questionnaireanswer",
            ["id", "response_id", "question_id", "value"],
            (
                (
                    answer0 + i,
                    response0 + i,
                    satisfaction.id,
                    outcome(k, client_profile(plan_clients[k])[1]).satisfaction,
                )
                for i, k in enumerate(done)
            ),
            len(done),
        )
        reset_sequence(cur, "plans_questionnaireanswer")
        event0 = next_id(cur, "plans_adverseevent")
        with_events = [k for k in done if outcome(k, client_profile(plan_clients[k])[1]).pih]
        columns = ["id", "client_id", "session_id", "plan_id", "type", "severity", "onset_on", "description"]
        columns += ["action_taken", "resolved_on", "recorded_by_id", "recorded_at", "clearance_note"]
        events = (
            (event0 + i, cid0 + plan_clients[k], first_session[k], pid0 + k, "pih", "mild", starts[k], "Bench", "")
            + (starts[k] + dt.timedelta(days=60), admin.id, now, "")
            for i, k in enumerate(with_events)
        )
        copy_rows(cur, "plans_adverseevent", columns, events, len(with_events))
        reset_sequence(cur, "plans_adverseevent")
    raw.commit()
    with connection.cursor() as c:
        # VACUUM, not only ANALYZE: a clinic's tables have been through autovacuum, so their
        # visibility map lets index-only scans skip the table; freshly copied rows have none yet,
        # and every covering index would look no better than the table it covers.
        for table in (
            "plans_client",
            "plans_treatmentplan",
            "plans_plansession",
            "plans_outcomescore",
            "plans_questionnaireresponse",
            "plans_questionnaireanswer",
            "plans_adverseevent",
        ):
            c.execute(f"VACUUM ANALYZE {table}")
    elapsed = time.monotonic() - t0
    return {
        "clients": args.clients,
        "practitioners": len(practitioners),
        "rooms": len(rooms),
        "plans": n_plans,
        "sessions": total_sessions,
        "outcome_scores": outcome_scores,
        "booked_or_completed": booked[0],
        "first_day": first_day.isoformat(),
        "last_day": last_day.isoformat(),
        "seconds": round(elapsed, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--practitioners", type=int, default=20)
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--years", type=float, default=2)
    parser.add_argument("--out", help="write the sizes as JSON here")
    args = parser.parse_args(argv)
    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("bench.generate fills PostgreSQL only: set DATABASE_URL=postgres://...")
    sizes = generate(args)
    print(sizes)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(sizes, fh, indent=1)


if __name__ == "__main__":
    main()
