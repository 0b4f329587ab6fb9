"""Requests anyone can send that used to end as a 500: each gets the readable 400 page instead."""

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

READABLE = b"This request could not be read"


@pytest.fixture
def browser(settings):
    """A browser as a stranger's script would be: CSRF enforced, DEBUG off (the production handlers)."""
    settings.DEBUG = False
    client = Client(enforce_csrf_checks=True)
    client.get(reverse("login"))
    return client


def _token(client) -> str:
    return client.cookies["csrftoken"].value


@pytest.mark.django_db
def test_a_username_longer_than_any_account_gets_a_400_page_and_no_lockout_row(browser):
    response = browser.post(
        reverse("login"),
        {"username": "u" * 300, "password": "x", "csrfmiddlewaretoken": _token(browser)},
        REMOTE_ADDR="192.0.2.7",
    )
    assert response.status_code == 400 and READABLE in response.content
    assert b"at most 150 characters" in response.content
    assert not AccessAttempt.objects.exists()


@pytest.mark.django_db
def test_the_admin_login_with_a_long_or_nul_username_is_refused_without_a_crash(browser):
    for username in ("u" * 300, "ad\x00min"):
        response = browser.post(
            reverse("admin:login"),
            {"username": username, "password": "x", "csrfmiddlewaretoken": _token(browser)},
            REMOTE_ADDR="192.0.2.8",
        )
        assert response.status_code in (200, 400)
    assert all(len(a.username) <= 150 and "\x00" not in a.username for a in AccessAttempt.objects.all())


@pytest.mark.django_db
@pytest.mark.parametrize("charset", ["utf-16", "utf-7", "latin-1", '"UTF-16"'])
@pytest.mark.parametrize("page", ["login", "client-create"])
def test_a_form_in_another_charset_gets_a_400_page(browser, aesthetician, charset, page):
    if page != "login":
        browser.force_login(aesthetician)
        browser.get(reverse("home"))
    response = browser.post(
        reverse(page),
        "username=a&password=b",
        content_type=f"application/x-www-form-urlencoded; charset={charset}",
        HTTP_X_CSRFTOKEN=_token(browser),
    )
    assert response.status_code == 400 and READABLE in response.content
    assert b"UTF-8" in response.content


@pytest.mark.django_db
def test_a_utf8_form_still_logs_in(browser, aesthetician):
    aesthetician.set_password("right-password-1")
    aesthetician.save()
    response = browser.post(
        reverse("login"),
        f"username={aesthetician.username}&password=right-password-1&csrfmiddlewaretoken={_token(browser)}",
        content_type="application/x-www-form-urlencoded; charset=UTF-8",
        REMOTE_ADDR="192.0.2.9",
    )
    assert response.status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/feeds/a%00b.ics", "/clients/?q=a%00b", "/clients/?q=%ed%a0%80"])
def test_a_nul_or_broken_utf8_in_the_address_gets_a_400_page(browser, aesthetician, url):
    browser.force_login(aesthetician)
    response = browser.get(url)
    assert response.status_code == 400 and READABLE in response.content


@pytest.mark.django_db
def test_an_oversized_body_gets_a_readable_400_page(browser, aesthetician):
    browser.force_login(aesthetician)
    browser.get(reverse("home"))
    response = browser.post(reverse("client-create"), {"notes": "x" * 3_000_000}, HTTP_X_CSRFTOKEN=_token(browser))
    assert response.status_code == 400 and READABLE in response.content
    assert b"larger than any form" in response.content
