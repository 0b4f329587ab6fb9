"""The Django admin site of the clinic: every model's list page survives hostile filters.

Django's changelist turns most malformed filters into IncorrectLookupParameters (the list shown
unfiltered), but not all: a date hierarchy of year 9999 overflows computing "the next year", a
filter on id 2**63 overflows SQLite's integers, a 100,000-character search is a pattern SQLite
refuses. Each was a 500, on our models and on those of auth and axes alike, so the guard is
added to every ModelAdmin registered on the site, whoever registers it.
"""

from __future__ import annotations

import contextlib

from django.contrib import admin, messages
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import SEARCH_VAR
from django.db import DatabaseError, connection, transaction

# A search longer than any name, email or phone we store finds nothing; it is refused before SQL.
SEARCH_MAX_LENGTH = 200


class SafeChangelist:
    """ModelAdmin mixin: a filter or search the database cannot run shows the list unfiltered, with a message."""

    def get_changelist_instance(self, request):
        if len(request.GET.get(SEARCH_VAR, "")) > SEARCH_MAX_LENGTH:
            messages.warning(request, f"Search for at most {SEARCH_MAX_LENGTH} characters.")
            raise IncorrectLookupParameters("search too long")
        # Inside a transaction, a savepoint: on PostgreSQL a failed query spoils the rest of it. Outside
        # (the list view is not atomic), none: on SQLite an atomic block would take the write lock.
        guard = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
        try:
            with guard:
                return super().get_changelist_instance(request)
        except (IncorrectLookupParameters, ValueError, OverflowError, DatabaseError) as exc:
            messages.warning(request, "That filter cannot be applied (a date or number out of range): showing all.")
            raise IncorrectLookupParameters(exc) from exc


class ClinicAdminSite(admin.AdminSite):
    site_header = "Clinic administration"
    site_title = "Clinic admin"

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, SafeChangelist):
            admin_class = type(
                admin_class.__name__, (SafeChangelist, admin_class), {"__module__": admin_class.__module__}
            )
        return super().register(model_or_iterable, admin_class, **options)


class ClinicAdminConfig(AdminConfig):
    default_site = "clinic.admin_site.ClinicAdminSite"
