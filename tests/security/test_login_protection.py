"""Guessing passwords: five wrong tries lock the login for a while, even for the right password."""

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest
from django.urls import reverse

pytestmark = pytest.mark.django_db

RIGHT = "correct-horse-battery"  # tests.factories.UserFactory's password


def _try(client, username, password, address="203.0.113.7"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def test_five_wrong_passwords_lock_the_login_and_then_the_right_one_fails_with_a_clear_message(client, aesthetician):
    for _ in range(4):
        response = _try(client, "ana", "wrong-guess")
        assert response.status_code == 200 and "Please enter a correct username and password" in response.text
    locked = _try(client, "ana", "wrong-guess")
    assert locked.status_code == 429

    response = _try(client, "ana", RIGHT)
    assert response.status_code == 429
    assert "Login locked" in response.text and "blocked for 15 minutes, even with the right password" in response.text
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("home")).status_code == 302  # still not logged in


def test_the_lock_holds_for_this_username_from_this_address_only(client, aesthetician, front_desk):
    for _ in range(5):
        _try(client, "ana", "wrong-guess")
    # A colleague at the same desk can still log in, and Ana from another computer can too.
    assert _try(client, "fiona", RIGHT).status_code == 302
    client.logout()
    assert _try(client, "ana", RIGHT, address="198.51.100.9").status_code == 302


def test_a_successful_login_clears_earlier_failures(client, aesthetician):
    for _ in range(4):
        _try(client, "ana", "wrong-guess")
    assert _try(client, "ana", RIGHT).status_code == 302
    client.logout()
    assert not AccessAttempt.objects.filter(username="ana").exists()
    for _ in range(4):
        _try(client, "ana", "wrong-guess")
    assert _try(client, "ana", RIGHT).status_code == 302


def test_the_admin_login_is_locked_the_same_way(client, clinic_admin):
    for _ in range(5):
        client.post(reverse("admin:login"), {"username": "maria", "password": "nope"}, REMOTE_ADDR="203.0.113.7")
    response = client.post(reverse("admin:login"), {"username": "maria", "password": RIGHT}, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 429


def test_authenticate_needs_the_request_so_axes_can_see_the_address(aesthetician):
    # Code that checks a password itself must pass the request (the test client's force_login needs none).
    request = HttpRequest()
    request.META["REMOTE_ADDR"] = "203.0.113.7"
    assert authenticate(request, username="ana", password=RIGHT) == aesthetician


def test_force_login_still_works_for_tests(client, aesthetician):
    client.force_login(aesthetician)
    assert client.get(reverse("home")).status_code == 200


def test_login_protection_settings():
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    validators = {v["NAME"].rsplit(".", 1)[1] for v in settings.AUTH_PASSWORD_VALIDATORS}
    assert {"MinimumLengthValidator", "CommonPasswordValidator"} <= validators


def test_the_test_clients_password_login_still_works(client, aesthetician):
    assert client.login(username="ana", password=RIGHT)
    assert client.get(reverse("home")).status_code == 200
    assert not client.login(username="ana", password="wrong-guess")


def test_the_session_ends_when_the_browser_closes(client, aesthetician):
    response = _try(client, "ana", RIGHT)
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert not cookie["expires"] and not cookie["max-age"]  # a browser-session cookie
    assert cookie["httponly"]
