"""Personal data never travels in log lines, URLs or Celery task arguments: ids only."""

import ast
import io
import logging
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import get_resolver

from plans.logging import redact
from tests.helpers.sweeps import walk

PLANS = Path(settings.BASE_DIR) / "plans"

# Task parameters that are not ids, with the reason they are safe.
TASK_PARAMETER_EXCEPTIONS = {("record_heartbeat", "name"): "the worker's name, not a person's"}
TASK_CALLS = {"delay", "apply_async", "s", "si", "signature", "send_task"}


def _is_id(name: str) -> bool:
    return name in {"id", "pk", "ids"} or name.endswith(("_id", "_ids", "_pk"))


def _tasks(tree: ast.Module):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names = {ast.unparse(d.func if isinstance(d, ast.Call) else d) for d in node.decorator_list}
            if names & {"shared_task", "app.task", "celery_app.task"}:
                yield node


def test_celery_tasks_take_only_ids():
    tree = ast.parse((PLANS / "tasks.py").read_text())
    wrong = []
    for task in _tasks(tree):
        arguments = task.args.posonlyargs + task.args.args + task.args.kwonlyargs
        for argument in arguments:
            if argument.arg in ("self",) or _is_id(argument.arg):
                continue
            if (task.name, argument.arg) not in TASK_PARAMETER_EXCEPTIONS:
                wrong.append(f"{task.name}({argument.arg})")
    assert not wrong, f"Celery tasks must take ids and load the row themselves (the broker keeps arguments): {wrong}"


def _argument_is_an_id(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return node.value is None or isinstance(node.value, int)
    if isinstance(node, ast.Name):
        return _is_id(node.id)
    if isinstance(node, ast.Attribute):
        return _is_id(node.attr)
    if isinstance(node, ast.List | ast.Tuple):
        return all(_argument_is_an_id(item) for item in node.elts)
    return False


def _unpack(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.List | ast.Tuple):
        return list(node.elts)
    if isinstance(node, ast.Dict):
        return list(node.values)
    return [node]


def _task_arguments(call: ast.Call) -> list[ast.expr]:
    if call.func.attr == "apply_async":  # apply_async(args, kwargs, countdown=..., ...)
        found = [item for node in call.args[:2] for item in _unpack(node)]
        return found + [item for k in call.keywords if k.arg in ("args", "kwargs") for item in _unpack(k.value)]
    return list(call.args) + [keyword.value for keyword in call.keywords]


def _bad_task_calls(source: str) -> list[str]:
    wrong = []
    for node in ast.walk(ast.parse(source)):
        is_task_call = (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in TASK_CALLS
        )
        if is_task_call and not all(_argument_is_an_id(argument) for argument in _task_arguments(node)):
            wrong.append(f"line {node.lineno}: {ast.unparse(node)}")
    return wrong


def test_the_task_call_scan_catches_personal_data_in_arguments():
    assert _bad_task_calls("send_email.delay(client.email, session_id)")
    assert _bad_task_calls("send_email.apply_async(args=[client.full_name])")
    assert not _bad_task_calls("send_email.delay(outbox.id)\nsend_email.apply_async(args=[outbox_id], countdown=5)")


def test_tasks_are_queued_with_ids_only():
    wrong = []
    for module in sorted(PLANS.rglob("*.py")):
        if "migrations" not in module.parts:
            wrong += [f"{module.relative_to(PLANS.parent)} {call}" for call in _bad_task_calls(module.read_text())]
    assert not wrong, "Queue Celery tasks with ids only (the broker stores and logs them):\n  " + "\n  ".join(wrong)


PERSONAL_WORDS = ("name", "email", "mail", "phone", "birth", "dob", "address", "note", "answer", "reason")


def test_url_parameters_never_carry_personal_data():
    wrong = []
    for page in walk(get_resolver()):
        for param in page.pattern.pattern.regex.groupindex:
            if any(word in param.lower() for word in PERSONAL_WORDS):
                wrong.append(f"{page.name}: <{param}>")
    assert not wrong, f"URLs end up in access logs and browser history: use ids, not {wrong}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Reminder sent to zoe.quinn@example.com", "Reminder sent to [email]"),
        ("SMTP refused <first.last+tag@mail.example.co.uk>", "SMTP refused <[email]>"),
        ("Client phone +44 7700 900123 failed", "Client phone [phone] failed"),
        ("call 020 7946 0000 or 07700900123", "call [phone] or [phone]"),
        ("session 42 at 2026-11-22 03:05:24, client 1234567", "session 42 at 2026-11-22 03:05:24, client 1234567"),
        ('"GET /clients/?q=Zoe+Quinn&page=2 HTTP/1.1" 200 5120', '"GET /clients/ HTTP/1.1" 200 5120'),
        ('"POST /clients/12/edit/ HTTP/1.1" 302 0', '"POST /clients/12/edit/ HTTP/1.1" 302 0'),
    ],
)
def test_the_log_filter_masks_emails_and_phone_numbers_but_not_ids_and_times(text, expected):
    assert redact(text) == expected


def test_every_log_line_goes_through_the_filter():
    (handler,) = [
        h for h in logging.getLogger().handlers if any(type(f).__name__ == "RedactPersonalData" for f in h.filters)
    ]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        try:
            raise ValueError("duplicate key (email)=(zoe.quinn@example.com)")
        except ValueError:
            logging.getLogger("plans.outbox").exception("Could not email %s on %s", "zoe@example.com", "+447700900123")
    finally:
        handler.setStream(previous)
    written = stream.getvalue()
    assert "Could not email [email] on [phone]" in written
    assert "(email)=([email])" in written and "example.com" not in written


def test_runservers_request_lines_go_through_the_filter_too():
    """`make run` serves with runserver, whose django.server logger has its own handler by default."""
    logger = logging.getLogger("django.server")
    handlers = [h for h in logger.handlers if not type(h).__module__.startswith("_pytest")]
    assert handlers and not logger.propagate
    assert all(any(type(f).__name__ == "RedactPersonalData" for f in h.filters) for h in handlers)
