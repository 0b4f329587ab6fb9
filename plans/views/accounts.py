"""The staff login page."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views

from plans.views.errors import bad_request


def username_max_length() -> int:
    return get_user_model()._meta.get_field("username").max_length


class LoginView(auth_views.LoginView):
    """Django's login, refusing a username no account can have before the lockout records it.

    django-axes records every failed login, username included, in a 255-character column:
    a longer username was a DataError (500) on PostgreSQL.
    """

    def post(self, request, *args, **kwargs):
        if len(request.POST.get("username", "")) > username_max_length():
            return bad_request(request, f"A username has at most {username_max_length()} characters.")
        return super().post(request, *args, **kwargs)
