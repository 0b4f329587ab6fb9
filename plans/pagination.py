"""Pagination for lists that grow with the clinic (clients, emails)."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.utils.functional import cached_property


class CappedPaginator(Paginator):
    """Pages through at most `max_pages` pages of a list, finding the matches once.

    A plain Paginator counts every match and then runs the search again for the page: at a
    clinic chain's size (100,000 clients, millions of emails) that is two scans per page view,
    the first to print a number nobody pages through. Here one query reads the ids of the
    first max_pages pages in the list's order, and a second loads the page's rows by id. Past
    the cap the page says so (`capped`) and asks for a narrower search.
    """

    def __init__(self, object_list, per_page, *, max_pages: int = 40, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.cap = per_page * max_pages

    @cached_property
    def _ids(self) -> list:
        # One id past the cap tells "more" from "exactly cap".
        return list(self.object_list.values_list("pk", flat=True)[: self.cap + 1])

    @cached_property
    def count(self) -> int:
        return min(len(self._ids), self.cap)

    @property
    def capped(self) -> bool:
        return len(self._ids) > self.cap

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        ids = self._ids[bottom : min(bottom + self.per_page, self.cap)]
        # The list's own ordering still applies to the filtered queryset.
        return self._get_page(list(self.object_list.filter(pk__in=ids)), number, self)
