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
