"""Shared by the sweeps that try every page and form: what counts as a refusal, and the URLconf walk."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.messages.storage.base import BaseStorage
from django.urls import URLPattern, URLResolver


def refused(response) -> bool:
    """A clear refusal: a 4xx, a re-rendered form with errors, or a redirect carrying an error message."""
    if 400 <= response.status_code < 500:
        return True
    if response.status_code == 200:
        context = response.context
        form = context.get("form") if context else None
        if form is not None and getattr(form, "errors", None):
            return True
        if context and "adminform" in context:
            return bool(context["adminform"].form.errors) or any(
                inline.formset.total_error_count() for inline in context["inline_admin_formsets"]
            )
    # Only the messages this request added (recorded by record_flashes): earlier ones wait in the
    # session until a page shows them.
    return any(level >= messages.ERROR for level in FLASHED)


FLASHED: list[int] = []


def record_flashes(monkeypatch) -> None:
    """Record the level of every flash message added from now on in FLASHED (emptied first, so no
    test reads levels another test left behind)."""
    FLASHED.clear()
    real_add = BaseStorage.add

    def add(self, level, message, extra_tags=""):
        FLASHED.append(level)
        return real_add(self, level, message, extra_tags)

    monkeypatch.setattr(BaseStorage, "add", add)


@dataclass
class Page:
    name: str  # "namespace:name", or "namespace:<route>" for an unnamed pattern
    route: str
    pattern: URLPattern


def walk(resolver: URLResolver, prefix: str = "", namespace: str | None = None) -> Iterator[Page]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(part for part in (namespace, entry.namespace) if part) or None
            yield from walk(entry, prefix + str(entry.pattern), inner)
        else:
            route = prefix + str(entry.pattern)
            name = entry.name or (
                "<catch-all>" if str(entry.pattern).endswith("(?P<url>.*)$") else f"<{str(entry.pattern)}>"
            )
            yield Page(f"{namespace}:{name}" if namespace else name, route, entry)
