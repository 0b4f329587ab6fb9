"""Staff accounts and their roles."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, Group
from django.db import transaction

from plans.roles import CLINIC_ADMIN, ROLES


def user_set_role(*, user: AbstractUser, role: str) -> AbstractUser:
    """Make `user` a member of exactly one role group; only clinic admins may enter the Django admin."""
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; choose one of: {', '.join(ROLES)}.")
    with transaction.atomic():
        group = Group.objects.get(name=role)
        user.groups.remove(*Group.objects.filter(name__in=ROLES).exclude(pk=group.pk))
        user.groups.add(group)
        user.is_staff = role == CLINIC_ADMIN or user.is_superuser
        user.save(update_fields=["is_staff"])
    return user


def user_role(user: AbstractUser) -> str | None:
    """The role group `user` belongs to (None when none)."""
    return user.groups.filter(name__in=ROLES).values_list("name", flat=True).first()


def may_manage_account(*, editor: AbstractUser, user: AbstractUser | None) -> bool:
    """Whether `editor` may change `user`'s account (None: a new account).

    Only a superuser may touch a superuser's account: whoever can change it can set its
    password and log in as it. Everybody else manages staff through the clinic's roles.
    """
    return editor.is_superuser or user is None or not user.is_superuser
