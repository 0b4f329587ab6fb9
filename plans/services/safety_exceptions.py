"""Clinic-wide exceptions to the safety floor (plans/safety.py): every write, audited by simple-history."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError

from plans.models import SafetyException


def safety_exception_record(*, max_depth_mm: Decimal, reason: str, by: AbstractBaseUser) -> SafetyException:
    """Allow needling down to max_depth_mm clinic-wide, for the recorded reason."""
    exception = SafetyException(max_depth_mm=max_depth_mm, reason=reason.strip(), created_by=by)
    exception.full_clean()
    exception._history_user = by
    exception.save()
    return exception


def safety_exception_end(*, exception: SafetyException, by: AbstractBaseUser) -> SafetyException:
    """Switch the exception off; protocols deeper than the floor stop being chosen at once."""
    if not SafetyException.objects.filter(pk=exception.pk).exists():
        raise ValidationError("This exception does not exist.")
    exception.active = False
    exception._history_user = by
    exception.save(update_fields=["active"])
    return exception
