"""In a real browser, our pages and the Django admin run under the Content-Security-Policy without violations."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def _watch_csp(page) -> list[str]:
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return violations


def test_staff_pages_load_scripts_and_styles_without_csp_violations(log_in, page, aesthetician, live_server):
    violations = _watch_csp(page)
    log_in(aesthetician)
    assert page.evaluate("typeof window.htmx") == "object"  # htmx loaded from a static file
    assert page.evaluate("typeof window.bootstrap") == "object"
    # htmx honoured the meta config: no inline <style> injected (the CSP would have refused it anyway).
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False
    assert page.locator("style").count() == 0
    assert not violations, violations


def test_the_django_admin_works_under_the_csp(log_in, page, clinic_admin, live_server):
    violations = _watch_csp(page)
    log_in(clinic_admin)
    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name="Record access log").click()
    page.wait_for_url("**/admin/plans/recordaccess/")
    assert not violations, violations


def test_a_locked_out_login_says_so(page, aesthetician, live_server):
    for _ in range(5):
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill("ana")
        page.get_by_label("Password").fill("wrong-guess")
        page.get_by_role("button", name="Log in").click()
    assert "blocked for 15 minutes" in page.locator("#lockout-message").inner_text()


def test_the_violation_watcher_sees_a_blocked_inline_handler(log_in, page, aesthetician, live_server):
    log_in(aesthetician)
    with page.expect_console_message(lambda message: "Content Security Policy" in message.text) as report:
        page.evaluate("document.body.insertAdjacentHTML('beforeend', '<img src=\"/static/x.png\" onerror=\"1\">')")
    assert "script-src" in report.value.text
