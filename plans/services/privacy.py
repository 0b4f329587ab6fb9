"""A client's rights over their data: access logging, export, erasure.

Export and erasure find the client's data generically: every model that points at the client
through a chain of foreign keys (Client <- Screening <- ScreeningAnswer, Client <- TreatmentPlan
<- PlanSession <- whatever other areas hang off a session). A new model is exported without
any change here; erasure refuses to run until ERASURE_POLICY says what to do with the new
model (tests/security/test_privacy.py fails first), so personal data cannot be left behind
by accident.

Some rows mention a client without a foreign key: the Django admin's change log (LogEntry) names
the object it changed ("Screening of Zoe Quinn on ...") by content type and id. Those are found
through the client's rows too (_admin_log), exported, and rewritten by erasure.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import re
from collections.abc import Iterator
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.utils import timezone
from simple_history.exceptions import NotHistoricalModelError
from simple_history.utils import get_history_model_for_model

from plans.models import AccessAction, Client, PlanSession, RecordAccess, SessionStatus
from plans.services.photos import client_photos_delete_on_commit


class ErasureRefused(Exception):
    """The client cannot be erased now; the message says why and what to do."""


def record_access_log(*, user: AbstractBaseUser, client: Client, action: str, reason: str = "") -> RecordAccess:
    """Record that `user` viewed, exported or erased `client`'s record. Call it from every clinical page."""
    if action not in AccessAction.values:
        raise ValueError(f"Unknown record access action {action!r}; use one of {', '.join(AccessAction.values)}.")
    return RecordAccess.objects.create(user=user, client=client, action=action, reason=reason[:500])


# --- Finding everything about a client -------------------------------------------------------


def _children(model: type[models.Model]) -> Iterator[models.ForeignObjectRel]:
    """Reverse foreign keys into `model` (one-to-many and one-to-one), e.g. Client -> screenings.

    A model's foreign key to itself (a session moved from another) is skipped: those rows are
    reached through their own parent already, and following it would loop.
    """
    for field in model._meta.get_fields():
        reverse = field.auto_created and not field.concrete and (field.one_to_many or field.one_to_one)
        if reverse and field.related_model is not model:
            yield field


def _client_tree(
    queryset: models.QuerySet, depth: int = 0
) -> Iterator[tuple[type[models.Model], models.QuerySet, models.ForeignObjectRel | None]]:
    """Yield (model, rows, relation to parent) for the given rows and, recursively, every row that points at them."""
    if depth > 5:  # a cycle in the schema would be a bug; stop rather than recurse forever
        raise ImproperlyConfigured("Client data is nested more than 5 levels deep: check the relations.")
    for relation in _children(queryset.model):
        rows = relation.related_model._default_manager.filter(**{f"{relation.field.name}__in": queryset})
        yield relation.related_model, rows, relation
        yield from _client_tree(rows, depth + 1)


def _client_rows(client: Client) -> list[tuple[type[models.Model], list[int]]]:
    """(model, row ids) for the client and every row that belongs to them."""
    tree = [
        (model, list(rows.values_list("pk", flat=True)))
        for model, rows, _relation in _client_tree(Client.objects.filter(pk=client.pk))
    ]
    return [(Client, [client.pk]), *tree]


def _admin_log(rows: list[tuple[type[models.Model], list[int]]]) -> models.QuerySet[LogEntry]:
    """The admin change log's entries about any of these rows (LogEntry has no foreign key to them)."""
    about = models.Q(pk__in=[])
    for model, ids in rows:
        if ids:
            content_type = ContentType.objects.get_for_model(model, for_concrete_model=False)
            about |= models.Q(content_type=content_type, object_id__in=[str(pk) for pk in ids])
    return LogEntry.objects.filter(about).select_related("content_type", "user").order_by("action_time", "pk")


def client_related_models(client: Client) -> list[type[models.Model]]:
    return [model for model, _rows, _relation in _client_tree(Client.objects.filter(pk=client.pk))]


# --- Export ----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):  # a signature image: exported as base64
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


def _record(instance: models.Model, skip_field: str | None = None) -> dict[str, Any]:
    """Every stored field of a row; a foreign key to something outside the client's data is named."""
    data: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.name == skip_field:
            continue
        if field.is_relation:
            target = getattr(instance, field.name)
            data[field.name] = None if target is None else str(target)
        else:
            data[field.name] = _plain(field.value_from_object(instance))
    return data


def _history(instance: models.Model) -> list[dict[str, Any]]:
    try:
        history_model = get_history_model_for_model(type(instance))
    except NotHistoricalModelError:
        return []
    rows = history_model.objects.filter(id=instance.pk).select_related("history_user").order_by("history_date")
    versions = []
    for row in rows:
        version = {
            "changed_at": _plain(row.history_date),
            "change": {"+": "created", "~": "changed", "-": "deleted"}[row.history_type],
            "changed_by": row.history_user.get_username() if row.history_user else None,
        }
        for field in type(instance)._meta.concrete_fields:
            if hasattr(row, field.attname) and not field.is_relation:
                version[field.name] = _plain(getattr(row, field.attname))
        versions.append(version)
    return versions


def _export_rows(queryset: models.QuerySet, depth: int = 0) -> list[dict[str, Any]]:
    records = []
    for instance in queryset.order_by("pk"):
        record = _record(instance)
        for relation in _children(type(instance)):
            name = relation.get_accessor_name()
            rows = relation.related_model._default_manager.filter(**{relation.field.name: instance})
            children = _export_rows(rows, depth + 1)
            for child in children:
                child.pop(relation.field.name, None)  # the parent it sits under
            record[name] = children
        record["history"] = _history(instance)
        records.append(record)
    return records


def client_export(*, client: Client, by: AbstractBaseUser) -> dict[str, Any]:
    """Everything the app stores about the client, as JSON-ready data; the export is audited."""
    with transaction.atomic():
        record_access_log(user=by, client=client, action=AccessAction.EXPORT)
        (data,) = _export_rows(Client.objects.filter(pk=client.pk))
        admin_log = [
            {
                "at": _plain(entry.action_time),
                "by": entry.user.get_username(),
                "action": {1: "added", 2: "changed", 3: "deleted"}.get(entry.action_flag, str(entry.action_flag)),
                "object_type": entry.content_type.model if entry.content_type else None,
                "object_id": entry.object_id,
                "object": entry.object_repr,
                "change": entry.get_change_message(),
            }
            for entry in _admin_log(_client_rows(client))
        ]
    return {
        "exported_at": _plain(timezone.now()),
        "exported_by": by.get_username(),
        "client": data,
        "admin_log": admin_log,
    }


# --- Erasure ---------------------------------------------------------------------------------

KEEP = "keep"
DELETE = "delete"

# What erasure does to each kind of row that belongs to a client: KEEP it as it is, DELETE it,
# or overwrite the listed fields. What stays is what the clinic may keep without knowing who
# the client was: skin type, oiliness, pore concern, plans and sessions with their dates,
# statuses, depths and scores. A model that is missing here stops erasure with an error.
ERASURE_POLICY: dict[str, str | dict[str, Any]] = {
    "plans.Screening": {"notes": ""},
    # Health answers (pregnancy, isotretinoin, ...) are the most sensitive data we hold.
    "plans.ScreeningAnswer": DELETE,
    # Rationale, warnings and review items quote the screening ("isotretinoin 3 months ago").
    "plans.TreatmentPlan": {"rationale": [], "warnings": [], "review_items": []},
    "plans.PlanSession": {"notes": "", "cancel_reason": "", "window_override_reason": ""},
    # Delivery records stay as statistics; SMTP errors can quote the address.
    "plans.Message": {"last_error": ""},
    "plans.DeliveryAttempt": {"error": ""},
    # The access log is the proof of who saw the record and of the erasure itself.
    "plans.RecordAccess": KEEP,
    # The pre-session check's answers are health answers like the screening's.
    "plans.PreSessionCheck": DELETE,
    # Links to the client's own page: an erased client's emails must not open anything.
    "plans.ClientAccess": DELETE,
    # An erased client waits for nothing: the entries and their offers go (no statistic needs them).
    "plans.WaitlistEntry": DELETE,
    "plans.WaitlistOffer": DELETE,
    # Clinical decisions stay (who decided what, when); their free text can quote health data.
    "plans.ClinicalHold": {"reasons": [], "decision_note": "", "cause": ""},
    "plans.ReviewSignoff": {"note": "(erased)"},
    "plans.ClinicalOverride": {"detail": "", "reason": "(erased)"},
    # A signature, with the address and browser it came from, identifies the person: the signed
    # records go (a signed consent is never edited, so nothing less than deleting it would do).
    "plans.SignedConsent": DELETE,
    "plans.ConsentWithdrawal": DELETE,
    # The treatment record stays (device, lots, depths: a recall must still find the session);
    # its free text can quote health data. Signed rows accept only this blanking (WrittenOnce).
    "plans.TreatmentRecord": {"immediate_reaction": "", "notes": ""},
    "plans.ZoneDepth": KEEP,
    "plans.RecordAddendum": {"text": "(erased)"},
    "plans.AdverseEvent": {"description": "(erased)", "action_taken": "", "clearance_note": "(erased)"},
    # A face is the most identifying thing we hold: the photos go, rows and files (the files
    # once the erasure commits, see services/photos.py).
    "plans.Photo": DELETE,
    # Outcome scores and the client's questionnaire answers stay for the outcomes report (grades
    # and ratings, no identity); only the free text, which can quote health data, goes.
    "plans.OutcomeScore": {"notes": ""},
    "plans.QuestionnaireResponse": KEEP,
    "plans.QuestionnaireAnswer": KEEP,
    # The forms the client filled in before their first visit: their name, contact details and
    # health answers, all copied into the client record on review. Nothing is left to keep.
    "plans.IntakeInvitation": DELETE,
}


def _policy(model: type[models.Model]) -> str | dict[str, Any]:
    try:
        return ERASURE_POLICY[model._meta.label]
    except KeyError:
        raise ImproperlyConfigured(
            f"{model._meta.label} holds client data but has no entry in services.privacy.ERASURE_POLICY: "
            "say whether erasure keeps it, deletes it, or which fields it blanks."
        ) from None


def _purge_history(model: type[models.Model], ids: list[int]) -> None:
    try:
        history_model = get_history_model_for_model(model)
    except NotHistoricalModelError:
        return
    history_model.objects.filter(id__in=ids).delete()


def _anonymise_client(client: Client) -> None:
    client.first_name = "Erased client"
    client.last_name = f"#{client.pk}"
    client.email = ""
    client.phone = ""
    client.notes = ""
    client.email_consent = False
    # The birth year keeps age-band statistics possible; day and month identify.
    client.date_of_birth = dt.date(client.date_of_birth.year, 1, 1)
    client.erased_at = timezone.now()


def _erased_change_message(message: str) -> str:
    """The admin's change message without the names of the rows it added or deleted inline.

    What remains (which fields changed) says nothing about the client; an unreadable message is dropped.
    """
    try:
        items = json.loads(message or "[]")
    except ValueError:
        return ""
    if not isinstance(items, list):
        return ""
    for item in items:
        for detail in item.values() if isinstance(item, dict) else ():
            if isinstance(detail, dict) and "object" in detail:
                detail["object"] = "(erased)"
    return json.dumps(items)


def _erase_admin_log(rows: list[tuple[type[models.Model], list[int]]]) -> None:
    """Rewrite the admin log's names of the client's rows to what the rows are called after erasure."""
    for entry in _admin_log(rows):
        model = entry.content_type.model_class() if entry.content_type else None
        instance = model._default_manager.filter(pk=entry.object_id).first() if model else None
        label = model._meta.verbose_name if model else "object"
        entry.object_repr = (str(instance) if instance else f"{label} #{entry.object_id} (erased)")[:200]
        entry.change_message = _erased_change_message(entry.change_message)
        entry.save(update_fields=["object_repr", "change_message"])


def client_erase(*, client: Client, by: AbstractBaseUser, reason: str) -> Client:
    """Anonymise the client and everything that identifies them; keep non-identifying statistics.

    Old versions in the audit history hold the same personal data, so the history of every
    affected row is purged and replaced by one version: the erased state, recorded as changed
    by `by` with the reason "Personal data erased". The access log (RecordAccess) keeps who
    viewed, exported and erased the record, referring to the client by id only.
    """
    reason = reason.strip()
    if not reason:
        raise ErasureRefused("Give the reason for the erasure (e.g. the client's written request and its date).")
    with transaction.atomic():
        client = Client.objects.select_for_update().get(pk=client.pk)
        # The reason stays in the access log after the erasure: it must not name the client.
        identifying = [client.first_name, client.last_name, client.email, client.phone]
        if any(text and re.search(rf"(?<!\w){re.escape(text)}(?!\w)", reason, re.IGNORECASE) for text in identifying):
            raise ErasureRefused(
                "Give the reason without the client's name or contact details: the access log keeps it after erasure."
            )
        if client.erased_at is not None:
            raise ErasureRefused(f"This client was already erased on {timezone.localtime(client.erased_at):%d %b %Y}.")
        upcoming = PlanSession.objects.filter(
            plan__client=client, status=SessionStatus.BOOKED, starts_at__gte=timezone.now()
        ).count()
        if upcoming:
            raise ErasureRefused(
                f"The client still has {upcoming} upcoming booked session(s): cancel them first, then erase."
            )

        client_photos_delete_on_commit(client=client)
        tree = list(_client_tree(Client.objects.filter(pk=client.pk)))
        policies = [(model, rows, _policy(model)) for model, rows, _relation in tree]
        # Fix the row ids before anything is deleted: children are found through their parents.
        affected = [(model, list(rows.values_list("pk", flat=True)), policy) for model, rows, policy in policies]

        for model, ids, policy in reversed(affected):  # deepest rows first
            if policy == DELETE:
                model._default_manager.filter(pk__in=ids).delete()
        _purge_history(Client, [client.pk])
        for model, ids, policy in affected:
            if policy != KEEP:
                _purge_history(model, ids)

        _anonymise_client(client)
        client._history_user = by
        client._change_reason = "Personal data erased"
        client.save()
        for model, ids, policy in affected:
            if isinstance(policy, dict):
                for instance in model._default_manager.filter(pk__in=ids):
                    for field, value in policy.items():
                        setattr(instance, field, value)
                    instance._history_user = by
                    instance._change_reason = "Personal data erased"
                    instance.save()

        _erase_admin_log([(Client, [client.pk]), *((model, ids) for model, ids, _policy in affected)])
        record_access_log(user=by, client=client, action=AccessAction.ERASE, reason=reason)
    return client
