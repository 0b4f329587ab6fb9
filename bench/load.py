"""5. Booking under load: concurrent staff clients booking, rescheduling and cancelling over HTTP.

gunicorn (4 sync workers, DEBUG off) serves the app on loopback against the PostgreSQL bench
database. N client threads, each with its own staff session, work for a fixed time on the
same small pool of slots (3 practitioners, one week after every generated booking, starts on
a 15-minute grid, so requests collide on the same and on overlapping times):

    book       a proposed session of its own into a random slot          (POST /sessions/N/book/)
    reschedule one of its booked sessions to another random slot          (POST /sessions/N/reschedule/)
    cancel     one of its booked sessions, freeing the slot for the rest  (POST /sessions/N/cancel/)

A 409 is a conflict the app caught (the slot was taken first); any 5xx is a failure. Afterwards
PostgreSQL is asked directly for overlapping bookings of a practitioner or a room (there must be
none), and the sessions' final states are compared with the successful requests.
"""

from __future__ import annotations

import datetime as dt
import random
import statistics
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

from bench.server import csrf_headers, gunicorn, staff_cookies

GRID_MINUTES = 15
OVERRIDE = "Load benchmark: booked outside the plan window on purpose"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def target_slots(tz: ZoneInfo) -> tuple[list[int], list[dt.datetime], dt.datetime]:
    """Three practitioners and every 15-minute start of one working week that no generated or
    earlier benchmark booking touches."""
    from django.db.models import Max

    from plans.models import PlanSession, Practitioner

    latest = PlanSession.objects.filter(starts_at__isnull=False).aggregate(m=Max("starts_at"))["m"]
    day = latest.astimezone(tz).date() + dt.timedelta(days=7)
    monday = day + dt.timedelta(days=(7 - day.weekday()) % 7)
    practitioners = list(
        Practitioner.objects.filter(active=True, user__username__startswith="bench-p")
        .order_by("id")
        .values_list("id", flat=True)[:3]
    )
    starts = [
        dt.datetime.combine(monday + dt.timedelta(days=d), dt.time(9), tzinfo=tz) + dt.timedelta(minutes=m)
        for d in range(5)
        for m in range(0, 6 * 60 + 1, GRID_MINUTES)  # last start 15:00: a session ends by the 17:00 close
    ]
    return practitioners, starts, dt.datetime.combine(monday, dt.time(0), tzinfo=tz)


def fresh_sessions(count: int) -> list[int]:
    """Proposed first microneedling sessions of active plans: one per plan, so no plan rule links them."""
    from plans.models import PlanSession, PlanStatus, SessionKind, SessionStatus

    return list(
        PlanSession.objects.filter(
            status=SessionStatus.PROPOSED, kind=SessionKind.MICRONEEDLING, mn_number=1, plan__status=PlanStatus.ACTIVE
        )
        .order_by("-id")
        .values_list("id", flat=True)[:count]
    )


class Client(threading.Thread):
    def __init__(self, server, cookies, sessions, practitioners, starts, stop_at, seed):
        super().__init__(daemon=True)
        self.server, self.cookies = server, cookies
        self.headers = {**csrf_headers(cookies, server), "Accept": "application/json"}
        self.fresh, self.booked = list(sessions), []
        self.practitioners, self.starts, self.stop_at = practitioners, starts, stop_at
        self.random = random.Random(seed)
        self.records: list[tuple[str, int, float, int]] = []  # (action, status, ms, session id)

    def post(self, action: str, session_id: int, fields: dict) -> int:
        body = urllib.parse.urlencode(fields).encode()
        t = time.perf_counter()
        status, _, _ = self.server.request(
            "POST", f"/sessions/{session_id}/{action}/", cookies=self.cookies, body=body, headers=self.headers
        )
        self.records.append((action, status, (time.perf_counter() - t) * 1000, session_id))
        return status

    def slot(self) -> dict:
        start = self.random.choice(self.starts)
        return {
            "starts_at": start.strftime("%Y-%m-%d %H:%M"),
            "practitioner": self.random.choice(self.practitioners),
            "override_reason": OVERRIDE,
        }

    def run(self) -> None:
        while time.monotonic() < self.stop_at:
            roll = self.random.random()
            if self.booked and roll < 0.3:
                session_id = self.random.choice(self.booked)
                self.post("reschedule", session_id, self.slot())
            elif self.booked and roll < 0.45:
                session_id = self.booked.pop(self.random.randrange(len(self.booked)))
                if self.post("cancel", session_id, {"by_client": "1", "reason": "Load benchmark"}) != 200:
                    self.booked.append(session_id)
            elif self.fresh:
                session_id = self.fresh.pop()
                if self.post("book", session_id, self.slot()) == 200:
                    self.booked.append(session_id)
            else:
                break


def overlaps(column: str, since: dt.datetime) -> int:
    """Pairs of live bookings that overlap on one practitioner (or room), straight from the tables."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT count(*) FROM plans_plansession a JOIN plans_plansession b
              ON a.{column} = b.{column} AND a.id < b.id
             AND tstzrange(a.starts_at, a.blocked_until) && tstzrange(b.starts_at, b.blocked_until)
            WHERE a.status IN ('booked', 'completed') AND b.status IN ('booked', 'completed')
              AND a.starts_at >= %s AND b.starts_at >= %s
            """,
            [since, since],
        )
        return cursor.fetchone()[0]


def statements_of_one_booking(session_id: int, practitioners: list[int], starts: list) -> list[str]:
    """The SQL statements of one booking POST, served in-process (the session is then out of the
    load's pool): what each of the load's bookings costs the database, for the report."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client as TestClient
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext

    with override_settings(ALLOWED_HOSTS=["testserver"], SECURE_SSL_REDIRECT=False):
        http = TestClient()
        http.force_login(get_user_model().objects.get(username="bench-admin"))
        fields = {
            "starts_at": starts[-1].strftime("%Y-%m-%d %H:%M"),
            "practitioner": practitioners[-1],
            "override_reason": OVERRIDE,
        }
        with CaptureQueriesContext(connection) as ctx:
            response = http.post(f"/sessions/{session_id}/book/", fields, HTTP_ACCEPT="application/json")
    assert response.status_code in (200, 409), response.status_code
    return [_shape(q["sql"]) for q in ctx.captured_queries]


def _shape(sql: str) -> str:
    """ "SELECT plans_message", "INSERT plans_message", ...: the statement's verb and its table."""
    import re

    verb = sql.split(None, 1)[0].upper()
    table = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql)
    return f"{verb} {table.group(1)}" if table else verb


def run(database_url: str, clients: int = 16, duration_s: float = 30) -> dict:
    from django.conf import settings

    from plans.models import PlanSession, SessionStatus

    tz = ZoneInfo(settings.CLINIC_TIME_ZONE)
    practitioners, starts, since = target_slots(tz)
    per_client = 400
    pool = fresh_sessions(clients * per_client)
    if len(pool) < clients * per_client:
        raise SystemExit(
            f"Only {len(pool)} proposed first sessions in the bench database; {clients * per_client} needed."
        )
    statements = statements_of_one_booking(pool.pop(), practitioners, starts)
    with gunicorn(database_url, workers=4) as server:
        threads = []
        stop_at = time.monotonic() + duration_s
        for i in range(clients):
            cookies = staff_cookies("bench-admin")
            chunk = pool[i * per_client : (i + 1) * per_client]
            threads.append(Client(server, cookies, chunk, practitioners, starts, stop_at, seed=i))
        t = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - t
    records = [r for thread in threads for r in thread.records]
    statuses = Counter(status for _, status, _, _ in records)
    by_action: dict[str, list[float]] = defaultdict(list)
    outcomes: dict[str, Counter] = defaultdict(Counter)
    for action, status, ms, _ in records:
        by_action[action].append(ms)
        outcomes[action][status] += 1
    ok_ms = [ms for _, status, ms, _ in records if status == 200]
    booked_ms = [ms for action, status, ms, _ in records if status == 200 and action == "book"]
    # What the tables say must match what the server answered: every session a client holds as
    # booked is booked, and nothing else it touched is.
    held = {s for thread in threads for s in thread.booked}
    touched = {session_id for _, _, _, session_id in records}
    booked_now = set(
        PlanSession.objects.filter(pk__in=touched, status=SessionStatus.BOOKED).values_list("pk", flat=True)
    )
    return {
        "clients": clients,
        "seconds": elapsed,
        "gunicorn_workers": 4,
        "practitioners": len(practitioners),
        "slot_starts": len(starts) * len(practitioners),
        "week_of": since.date().isoformat(),
        "requests": len(records),
        "requests_per_s": len(records) / elapsed,
        "ok_per_s": statuses[200] / elapsed,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "conflicts": statuses[409],
        "server_errors": sum(v for k, v in statuses.items() if k >= 500),
        "median_ms": statistics.median(ok_ms) if ok_ms else 0.0,
        "p95_ms": pct(ok_ms, 95) if ok_ms else 0.0,
        "all_p95_ms": pct([ms for _, _, ms, _ in records], 95),
        "booked_p95_ms": pct(booked_ms, 95) if booked_ms else 0.0,
        "actions": {
            action: {
                "n": len(times),
                "median_ms": statistics.median(times),
                "p95_ms": pct(times, 95),
                "statuses": {str(k): v for k, v in sorted(outcomes[action].items())},
            }
            for action, times in sorted(by_action.items())
        },
        "practitioner_overlaps": overlaps("practitioner_id", since),
        "room_overlaps": overlaps("room_id", since),
        "state_mismatches": len(held ^ booked_now),
        "booking_statements": len(statements),
        "booking_statement_shapes": dict(Counter(statements).most_common(8)),
    }


def report_lines(d: dict) -> list[str]:
    lines = [
        "## 5. Booking under load",
        "",
        f"{d['clients']} concurrent staff clients (threads, each with its own logged-in session) against gunicorn "
        f"({d['gunicorn_workers']} sync workers, DEBUG off) and PostgreSQL on loopback for {d['seconds']:.0f} s, "
        "all on the same small pool of slots so that they collide: "
        f"{d['practitioners']} practitioners × a week of 15-minute starts ({d['slot_starts']} start/practitioner "
        f"pairs, week of {d['week_of']}). Each client books its own proposed sessions, reschedules and cancels "
        "them (POST with the CSRF token, JSON answers), as the calendar does.",
        "",
        f"- Throughput: **{d['requests_per_s']:.1f} requests/s** ({d['ok_per_s']:.1f}/s succeeded), "
        f"{d['requests']:,} requests in all.",
        f"- Successful requests: median {d['median_ms']:.0f} ms, **p95 {d['p95_ms']:.0f} ms** "
        f"(all requests p95 {d['all_p95_ms']:.0f} ms; successful bookings p95 {d.get('booked_p95_ms', 0):.0f} ms).",
        f"- Conflicts handled: **{d['conflicts']:,}** answered 409 (slot already taken; nothing written). "
        f"Server errors: **{d['server_errors']}**.",
        f"- Afterwards, straight from the tables: **{d['practitioner_overlaps']} overlapping bookings** of a "
        f"practitioner and **{d['room_overlaps']}** of a room; {d['state_mismatches']} sessions whose state "
        "differs from what the server answered.",
        "",
        "| action | requests | median ms | p95 ms | answers |",
        "|---|---:|---:|---:|---|",
    ]
    for action, a in d["actions"].items():
        answers = ", ".join(f"{n:,}× {code}" for code, n in a["statuses"].items())
        lines.append(f"| {action} | {a['n']:,} | {a['median_ms']:.0f} | {a['p95_ms']:.0f} | {answers} |")
    booked_p95 = d.get("booked_p95_ms", d["p95_ms"])
    if "booking_statements" in d and (d["requests_per_s"] < 150 or booked_p95 > 150):
        shapes = ", ".join(f"{n}× `{shape}`" for shape, n in d["booking_statement_shapes"].items())
        per_request = d["gunicorn_workers"] / max(d["requests_per_s"], 1e-9) * 1000
        lines += [
            "",
            f"**Why below 150 requests/s or above 150 ms.** Each of the 4 workers spends about {per_request:.0f} ms "
            f"per request, on 2 cores shared with PostgreSQL and the 16 load threads. One booking runs "
            f"**{d['booking_statements']} SQL statements** (measured in process before the load; most frequent: "
            f"{shapes}). The outbox rows a booking schedules (a confirmation, each reminder, the consent "
            "request, the baseline questionnaire) are written in the booking's transaction, so nothing "
            "scheduled can be lost, but one at a time, each after a SELECT FOR UPDATE of the row it may "
            "replace; and the practitioners', rooms', hours' and time off's rows are read more than once. "
            "What would close it: the session's outbox rows read in one SELECT and written in one bulk "
            "INSERT (two statements instead of one or two per email), the availability read once per "
            "booking, and more cores.",
        ]
    return lines
