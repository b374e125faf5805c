"""The audit log: append-only, hash-chained events (see lifecycle.services.audit)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import models

#: ``previous_hash`` of the first event.
GENESIS_HASH = "0" * 64

#: The fields the hash covers, in the canonical encoding (with ``previous_hash``).
HASHED_FIELDS: tuple[str, ...] = (
    "sequence",
    "occurred_at",
    "actor_id",
    "actor_type",
    "actor_name",
    "source",
    "correlation_id",
    "verb",
    "target_type",
    "target_id",
    "target_account",
    "target_region",
    "target_repr",
    "before",
    "after",
    "message",
    "previous_hash",
)


class AuditSource(models.TextChoices):
    """Where the action that caused an event came from."""

    WEB = "web", "Web"
    CLI = "cli", "Command line"
    WORKER = "worker", "Worker"
    BEAT = "beat", "Schedule"
    SYNC = "sync", "Sync"
    ADMIN = "admin", "Admin site"
    SYSTEM = "system", "System"
    API = "api", "API"


class ActorType(models.TextChoices):
    """Who acted: a signed-in user, a part of the system (named by the source), or nobody known."""

    USER = "user", "User"
    SYSTEM = "system", "System"
    ANONYMOUS = "anonymous", "Anonymous"


class AuditVerb(models.TextChoices):
    """The verbs the product writes. Other namespaced verbs (``thing.happened``) are allowed."""

    IMAGE_APPEARED = "image.appeared", "Image appeared"
    IMAGE_STATE_CHANGED = "image.state_changed", "Image state changed"
    IMAGE_DEPRECATION_CHANGED = "image.deprecation_changed", "Image deprecation changed"
    IMAGE_SHARING_CHANGED = "image.sharing_changed", "Image sharing changed"
    IMAGE_GONE = "image.gone", "Image gone"
    IMAGE_CONSUMERS_REPORTED = "image.consumers_reported", "Image consumers reported"
    SYNC_FINISHED = "sync.finished", "Sync finished"
    REQUEST_CREATED = "request.created", "Request created"
    REQUEST_APPROVED = "request.approved", "Request approved"
    REQUEST_REJECTED = "request.rejected", "Request rejected"
    REQUEST_CANCELLED = "request.cancelled", "Request cancelled"
    REQUEST_EXPIRED = "request.expired", "Request expired"
    REQUEST_STARTED = "request.started", "Request started"
    REQUEST_COMPLETED = "request.completed", "Request finished"
    ITEM_CLAIMED = "item.claimed", "Item claimed"
    ITEM_EXECUTED = "item.executed", "Item executed"
    ITEM_FAILED = "item.failed", "Item failed"
    ITEM_STALE = "item.stale", "Item stale"
    ITEM_NEEDS_REVIEW = "item.needs_review", "Item needs review"
    ITEM_RELEASED = "item.released", "Item released to run again"
    EXPORT_CREATED = "export.created", "Export created"
    REPORT_DELIVERED = "report.delivered", "Report delivered"
    ACCOUNT_ADDED = "account.added", "Account added"
    ACCOUNT_CHANGED = "account.changed", "Account changed"
    ACCOUNT_REMOVED = "account.removed", "Account removed"
    AUTH_LOGIN = "auth.login", "Signed in"
    AUTH_LOGIN_FAILED = "auth.login_failed", "Sign-in failed"
    AUTH_LOCKED_OUT = "auth.locked_out", "Sign-in locked"
    AUTH_LOGOUT = "auth.logout", "Signed out"
    ROLE_CHANGED = "role.changed", "Role changed"
    POLICY_CREATED = "policy.created", "Policy created"
    POLICY_CHANGED = "policy.changed", "Policy changed"
    POLICY_ENABLED = "policy.enabled", "Policy enabled"
    POLICY_DISABLED = "policy.disabled", "Policy disabled"
    POLICY_PROPOSED = "policy.proposed", "Proposed by a policy"
    PERMISSION_CHANGED = "permission.changed", "Permissions changed"
    USER_CHANGED = "user.changed", "User flags changed"
    PASSWORD_CHANGED = "user.password_changed", "Password set"
    SCOPE_CHANGED = "scope.changed", "Account scope changed"
    TWO_FACTOR_ENROLLED = "twofactor.enrolled", "Two-factor device enrolled"
    TWO_FACTOR_REMOVED = "twofactor.removed", "Two-factor device removed"
    RECOVERY_CODES_GENERATED = "twofactor.recovery_codes", "Recovery codes generated"
    TOKEN_CREATED = "token.created", "API token created"
    TOKEN_USED = "token.used", "API token used for a change"
    TOKEN_REVOKED = "token.revoked", "API token revoked"
    CLOUDTRAIL_FOUND = "cloudtrail.found", "Found in CloudTrail"
    CLOUDTRAIL_NOT_FOUND = "cloudtrail.not_found", "Not found in CloudTrail"


def target_display(kind: str, label: str) -> str:
    """Kind and name of a target, the kind left out when the name amidash made says it
    ("Request #3: Deregister", "Sync #4"); an image's own name keeps its kind."""
    kind = kind.replace("_", " ")
    if not kind or label.startswith(f"{kind.split(' ', 1)[0].capitalize()} #"):
        return label
    return f"{kind} {label}"


def isoformat_utc(value: datetime) -> str:
    """The canonical time: UTC, microseconds, ``Z`` (``2026-01-02T03:04:05.000006Z``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text: the same bytes for the same data everywhere."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_record(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The hashed fields of an event as JSON values (times as canonical UTC strings)."""
    record = {name: fields[name] for name in HASHED_FIELDS}
    if isinstance(record["occurred_at"], datetime):
        record["occurred_at"] = isoformat_utc(record["occurred_at"])
    return record


def event_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical encoding of every hashed field, ``previous_hash`` included."""
    return hashlib.sha256(canonical_json(canonical_record(fields)).encode()).hexdigest()


@dataclass(frozen=True)
class DiffRow:
    """One key of an event's before/after, and how it changed."""

    key: str
    before: Any
    after: Any
    change: str  # "added", "removed", "changed", "same"


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix or "(value)": value}


class AuditEvent(models.Model):
    """One thing that happened, chained to the event before it by hash.

    Shaped like NetBox's change log: time, actor (and a copy of their name, which outlives the
    user), source, correlation id (``request:<pk>``, ``sync:<pk>``, ``export:<uuid>``), verb,
    target (type, id, account, Region and a readable name), before/after data and a message.
    ``sequence`` is gapless: it is allocated under a PostgreSQL advisory lock by
    ``lifecycle.services.audit``, the only writer. Triggers refuse UPDATE, DELETE and TRUNCATE.

    The model is unmanaged after its migration created the table: ``flush`` (and test teardown)
    must not try to empty an append-only table.
    """

    sequence = models.BigIntegerField(primary_key=True)
    occurred_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        help_text="The user, if a user acted. Kept as an id: users may be deleted later.",
    )
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_name = models.CharField(max_length=150)
    source = models.CharField(max_length=16, choices=AuditSource.choices)
    correlation_id = models.CharField(max_length=100, blank=True)
    verb = models.CharField(max_length=64)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=255, blank=True)
    target_account = models.CharField(max_length=12, blank=True)
    target_region = models.CharField(max_length=32, blank=True)
    target_repr = models.CharField(max_length=255, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    message = models.TextField(blank=True)
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        managed = False
        db_table = "lifecycle_auditevent"
        ordering = ["-sequence"]
        default_permissions = ("view",)
        permissions = [("export_auditevent", "Can export audit events and reports")]
        verbose_name = "audit event"

    def __str__(self) -> str:
        return f"#{self.sequence} {self.verb}"

    @property
    def verb_label(self) -> str:
        return AuditVerb(self.verb).label if self.verb in AuditVerb.values else self.verb

    @property
    def target_label(self) -> str:
        return self.target_repr or self.target_id or self.target_type

    @property
    def target_display(self) -> str:
        return target_display(self.target_type, self.target_label)

    def canonical(self) -> dict[str, Any]:
        """The hashed fields as JSON values."""
        return canonical_record({name: getattr(self, name) for name in HASHED_FIELDS})

    def computed_hash(self) -> str:
        return event_hash({name: getattr(self, name) for name in HASHED_FIELDS})

    def diff(self) -> list[DiffRow]:
        """Before/after, key by key (nested objects flattened to dotted keys)."""
        before = _flatten(self.before) if self.before is not None else {}
        after = _flatten(self.after) if self.after is not None else {}
        rows = []
        for key in sorted(before.keys() | after.keys()):
            if key not in before:
                change = "added"
            elif key not in after:
                change = "removed"
            else:
                change = "same" if before[key] == after[key] else "changed"
            rows.append(DiffRow(key, before.get(key), after.get(key), change))
        return rows

    def changes(self) -> list[DiffRow]:
        """The rows of ``diff`` a timeline shows: what the event added or changed.

        Keys only ``before`` carries are the context the event was decided on (an execution's
        observed state), and a key empty on both sides says nothing; the event page has them all.
        """
        return [
            row
            for row in self.diff()
            if row.change in ("added", "changed")
            and not (row.before in (None, "") and row.after in (None, ""))
        ]
