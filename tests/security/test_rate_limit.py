"""Public pages (signed links) cannot be hammered: past the limit an address gets a clear 429 page."""

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
import time_machine
from django.db import connection
from django.test import RequestFactory

from plans.models import RateLimitBucket
from plans.permissions import client_ip
from plans.services.ratelimit import rate_limit_hit

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.security.urls")]


def test_an_address_gets_429_with_a_clear_message_after_the_limit(client):
    for _ in range(3):
        assert client.get("/public/ping/", REMOTE_ADDR="203.0.113.7").status_code == 200
    refused = client.get("/public/ping/", REMOTE_ADDR="203.0.113.7")
    assert refused.status_code == 429
    assert "Too many requests" in refused.text and "Please wait 1 minute and try again" in refused.text
    assert 1 <= int(refused["Retry-After"]) <= 61


def test_other_addresses_and_other_pages_have_their_own_allowance(client):
    for _ in range(4):
        client.get("/public/ping/", REMOTE_ADDR="203.0.113.7")
    assert client.get("/public/ping/", REMOTE_ADDR="198.51.100.9").status_code == 200
    assert client.get("/public/default/", REMOTE_ADDR="203.0.113.7").status_code == 200


def test_the_allowance_comes_back_in_the_next_window(client):
    with time_machine.travel(dt.datetime(2026, 3, 1, 10, 0, 5, tzinfo=dt.UTC), tick=False) as clock:
        for _ in range(4):
            client.get("/public/ping/", REMOTE_ADDR="203.0.113.7")
        assert client.get("/public/ping/", REMOTE_ADDR="203.0.113.7").status_code == 429
        clock.shift(dt.timedelta(seconds=60))
        assert client.get("/public/ping/", REMOTE_ADDR="203.0.113.7").status_code == 200


def test_the_default_limit_comes_from_settings(client, settings):
    settings.PUBLIC_RATE_LIMIT_REQUESTS = 2
    assert [client.get("/public/default/").status_code for _ in range(3)] == [200, 200, 429]


def test_no_ip_address_is_stored(client):
    client.get("/public/ping/", REMOTE_ADDR="203.0.113.7")
    (bucket,) = RateLimitBucket.objects.all()
    assert "203.0.113.7" not in bucket.key and len(bucket.key) == 64


def test_old_buckets_are_deleted_when_new_ones_open():
    rate_limit_hit(key="a", limit=5, window_seconds=60, now=dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC))
    rate_limit_hit(key="b", limit=5, window_seconds=60, now=dt.datetime(2026, 3, 3, 10, tzinfo=dt.UTC))
    assert list(RateLimitBucket.objects.values_list("key", flat=True)) == ["b"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_are_all_counted():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers anyway; the race matters on PostgreSQL with several workers")
    now = dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)

    def hit(_):
        try:
            return rate_limit_hit(key="race", limit=100, window_seconds=60, now=now).hits
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = sorted(pool.map(hit, range(40)))
    assert RateLimitBucket.objects.get(key="race").hits == 40
    assert counts[-1] == 40


def test_the_client_address_is_remote_addr_unless_proxies_are_trusted(settings):
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.2"  # a client cannot pick its address with a header
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.7"  # what our proxy saw, not what the client claimed
