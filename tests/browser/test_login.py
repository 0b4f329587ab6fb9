import pytest


@pytest.mark.django_db(transaction=True)
def test_an_aesthetician_logs_in_and_lands_on_today(log_in, aesthetician):
    page = log_in(aesthetician)
    assert page.get_by_role("heading", name="Today").is_visible()
    assert page.locator("#worker-status").is_visible()


@pytest.mark.django_db(transaction=True)
def test_a_wrong_password_is_refused_with_a_message(page, live_server, aesthetician):
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("ana")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_text("Please enter a correct username and password").is_visible()
