"""The one writer of the audit log, and the queries the auditor pages and exports share.

``record_event`` appends an event in the caller's transaction: the sequence number and the
previous hash are read under a PostgreSQL transaction-level advisory lock, so concurrent writers
queue and the chain stays gapless and valid. The lock is held until the caller's transaction
ends; keep transactions that write audit events short.

Usage::

    from lifecycle.models import AuditVerb
    from lifecycle.services.audit import Target, record_event

    record_event(
        AuditVerb.REQUEST_APPROVED, actor=user, source="web", target=Target("request", str(req.pk)),
        before={"status": "pending"}, after={"status": "approved"},
        correlation_id=f"request:{req.pk}",
    )
"""

from __future__ import annotations

import contextvars
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.db.models import F, Min, Q, QuerySet
from django.utils import timezone
from psycopg.types.json import Jsonb

from lifecycle.models import GENESIS_HASH, ActorType, AuditEvent, AuditSource
from lifecycle.models.audit import event_hash

#: Key of the advisory lock that serializes audit writers ("audi" in ASCII).
AUDIT_LOCK_KEY = 0x61756469
_VERB = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_SOURCES = frozenset(AuditSource.values)  # Choices.values builds a new list on every access
_BULK_BATCH = 2000

Actor = AbstractBaseUser | AnonymousUser | None


@dataclass(frozen=True)
class Target:
    """What an event is about: a type, an id, and the account and Region it lives in."""

    type: str
    id: str = ""
    account: str = ""
    region: str = ""
    label: str = ""


@dataclass(frozen=True)
class ChainHead:
    """The last event of the chain (sequence 0 and the genesis hash when the log is empty)."""

    sequence: int
    hash: str


@dataclass
class EventDraft:
    """An event before it gets its sequence and hashes (see ``record_events``)."""

    verb: str
    actor: Actor
    source: str
    target: Target | None = None
    before: Any = None
    after: Any = None
    message: str = ""
    correlation_id: str = ""
    occurred_at: datetime | None = None
    actor_name: str = ""


@dataclass(frozen=True)
class AuditContext:
    """Who is acting for code that cannot be told directly (signal receivers)."""

    actor: Actor = None
    source: str = AuditSource.SYSTEM
    correlation_id: str = ""
    defer_role_changes: bool = False  # the caller records one role.changed for the whole edit


_context: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar(
    "amidash_audit_context", default=None
)


@contextmanager
def audit_context(
    *,
    actor: Actor = None,
    source: str = AuditSource.SYSTEM,
    correlation_id: str = "",
    defer_role_changes: bool = False,
) -> Iterator[AuditContext]:
    """Name the actor and source for events recorded by receivers inside the block.

    The admin site and management commands use it so that, for example, a group change made
    through Django's user admin is recorded as ``role.changed`` by that admin, source ``admin``.
    """
    context = AuditContext(actor, source, correlation_id, defer_role_changes)
    token = _context.set(context)
    try:
        yield context
    finally:
        _context.reset(token)


def current_context() -> AuditContext:
    return _context.get() or AuditContext()


def target_of(obj: Any) -> Target:
    """A Target for a model instance (or a Target, returned as is).

    Objects may define ``audit_target() -> Target``. Inventory images are named by their AWS
    image id, account and Region, so their history outlives the inventory row.
    """
    if obj is None:
        return Target("")
    if isinstance(obj, Target):
        return obj
    if hasattr(obj, "audit_target"):
        return obj.audit_target()
    label = obj._meta.label_lower
    if label == "inventory.image":
        return Target("image", obj.image_id, obj.account.account_id, obj.region, obj.name)
    if label == "inventory.account":
        return Target("account", obj.account_id, obj.account_id, label=str(obj))
    if label == "inventory.syncrun":
        return Target("sync_run", str(obj.pk), label=f"Sync #{obj.pk}")
    if isinstance(obj, AbstractBaseUser):
        return Target("user", str(obj.pk), label=obj.get_username())
    return Target(obj._meta.model_name, str(obj.pk), label=str(obj)[:255])


#: Values that are JSON as they are (exact types: an enum member or a subclass is encoded).
_PLAIN = frozenset({str, int, bool, type(None)})


def json_value(value: Any) -> Any:
    """``value`` as plain JSON data, exactly as PostgreSQL's jsonb gives it back."""
    if value is None:
        return None
    # A flat object of plain values (an image observation) needs no encoding round trip: a
    # first sync of a large estate records 100,000 of them at once.
    if type(value) is dict and all(
        type(key) is str and type(item) in _PLAIN for key, item in value.items()
    ):
        return dict(value)
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder), parse_float=_jsonb_number)


def _jsonb_number(literal: str) -> float | int:
    """A JSON number with a fraction or an exponent, as jsonb gives it back.

    jsonb keeps numbers as ``numeric``, which it prints without an exponent and has no negative
    zero: ``1e+20`` comes back as the integer 100000000000000000000 (Python writes floats of
    1e16 and more that way, and they are all whole numbers), ``-0.0`` as ``0.0``.
    """
    if "e+" in literal or "E+" in literal:
        return int(Decimal(literal))
    number = float(literal)
    return number if number else 0.0


def _actor_fields(actor: Actor, source: str, actor_name: str) -> dict[str, Any]:
    if actor is not None and actor.is_authenticated:
        return {
            "actor_id": actor.pk,
            "actor_type": ActorType.USER,
            "actor_name": actor.get_username(),
        }
    if actor is not None:  # AnonymousUser: somebody not signed in
        return {
            "actor_id": None,
            "actor_type": ActorType.ANONYMOUS,
            "actor_name": actor_name or "anonymous",
        }
    return {"actor_id": None, "actor_type": ActorType.SYSTEM, "actor_name": actor_name or source}


def _fields_of(draft: EventDraft) -> dict[str, Any]:
    if not _VERB.match(draft.verb or ""):
        raise ValueError(f"audit verb must be namespaced like 'image.appeared', not {draft.verb!r}")
    if draft.source not in _SOURCES:
        raise ValueError(f"audit source must be one of {', '.join(AuditSource.values)}")
    target = target_of(draft.target)
    return {
        "occurred_at": draft.occurred_at,
        **_actor_fields(draft.actor, draft.source, draft.actor_name),
        "source": draft.source,
        "correlation_id": (draft.correlation_id or "")[:100],
        "verb": draft.verb,
        "target_type": target.type[:32],
        "target_id": str(target.id)[:255],
        "target_account": target.account[:12],
        "target_region": target.region[:32],
        "target_repr": target.label[:255],
        "before": json_value(draft.before),
        "after": json_value(draft.after),
        "message": draft.message or "",
    }


def chain_head() -> ChainHead:
    """The current head (not locked: for display and digests of what is committed)."""
    row = AuditEvent.objects.order_by("-sequence").values_list("sequence", "hash").first()
    return ChainHead(*row) if row else ChainHead(0, GENESIS_HASH)


def _append(drafts: Iterable[EventDraft]) -> list[dict[str, Any]]:
    prepared = [_fields_of(draft) for draft in drafts]  # validate before touching the database
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [AUDIT_LOCK_KEY])
        head = chain_head()
        sequence, previous_hash = head.sequence, head.hash
        now = timezone.now()  # after the lock: times follow the sequence
        for fields in prepared:
            sequence += 1
            fields.update(sequence=sequence, previous_hash=previous_hash)
            fields["occurred_at"] = fields["occurred_at"] or now
            fields["hash"] = previous_hash = event_hash(fields)
        _copy(prepared)
    return prepared


def _copy(rows: list[dict[str, Any]]) -> None:
    """Insert events by COPY: a first sync of a large estate records 100,000 at once."""
    fields = AuditEvent._meta.concrete_fields
    columns = ", ".join(f'"{field.column}"' for field in fields)
    names = [field.attname for field in fields]
    json_fields = {field.attname for field in fields if isinstance(field, models.JSONField)}
    table = AuditEvent._meta.db_table
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(
                [
                    Jsonb(row[name]) if name in json_fields and row[name] is not None else row[name]
                    for name in names
                ]
            )


def record_event(
    verb: str,
    *,
    actor: Actor,
    source: str,
    target: Any = None,
    before: Any = None,
    after: Any = None,
    message: str = "",
    correlation_id: str | None = None,
    actor_name: str = "",
) -> AuditEvent:
    """Append one event to the audit log in the caller's transaction and return it.

    ``actor`` is the user who acted, ``AnonymousUser`` for somebody not signed in, or None for
    the system part named by ``source`` (``sync``, ``worker``, ``beat``...). ``target`` is a
    ``Target`` or a model instance (see ``target_of``). ``before``/``after`` are JSON-able data
    (datetimes, decimals and UUIDs are turned into strings). ``correlation_id`` ties events of
    one request or sync run together: ``request:<pk>``, ``sync:<pk>``. ``actor_name`` overrides
    the copied name for anonymous and system actors. Raises ValueError for a verb that is not
    namespaced (``thing.happened``) or an unknown source.
    """
    draft = EventDraft(
        verb=verb,
        actor=actor,
        source=source,
        target=target,
        before=before,
        after=after,
        message=message,
        correlation_id=correlation_id or "",
        actor_name=actor_name,
    )
    event = AuditEvent(**_append([draft])[0])
    event._state.adding, event._state.db = False, connection.alias  # as if read back
    return event


def record_events(drafts: Iterable[EventDraft]) -> int:
    """Append many events at once, in order (one lock, bulk inserts); returns how many."""
    total = 0
    batch: list[EventDraft] = []
    with transaction.atomic():
        for draft in drafts:
            batch.append(draft)
            if len(batch) == _BULK_BATCH:
                total += len(_append(batch))
                batch = []
        if batch:
            total += len(_append(batch))
    return total


# --- queries -------------------------------------------------------------------------------


def image_history(image: Any) -> QuerySet[AuditEvent]:
    """Events about one inventory image (by AWS image id, account and Region), newest first."""
    target = target_of(image)
    return AuditEvent.objects.filter(
        target_type="image",
        target_id=target.id,
        target_account=target.account,
        target_region=target.region,
    )


def request_history(request_pk: int | str) -> QuerySet[AuditEvent]:
    """Events of one lifecycle request: the request itself and everything correlated with it."""
    return AuditEvent.objects.filter(
        Q(correlation_id=f"request:{request_pk}")
        | Q(target_type="request", target_id=str(request_pk))
    )


def rows_in_order(
    queryset: QuerySet[AuditEvent], fields: tuple[str, ...], batch: int = 2000
) -> Iterator[tuple]:
    """``values_list`` rows by ascending sequence, fetched in keyset batches.

    Each batch is a short index-range query, so the first row comes at once and nothing holds
    a cursor: Django's ``iterator()`` in autocommit declares a WITH HOLD cursor, which makes
    PostgreSQL materialize the whole result before the first row. Events never change, so the
    batches together are a consistent snapshot. The batches start at ``first_sequence``, so a
    filter matching only the end of a long log does not walk its whole beginning first.
    """
    position = fields.index("sequence")
    last: int | None = None
    size = min(batch, 100)  # a small first batch: the first rows go out at once
    start = first_sequence(queryset)
    if start is None:
        return
    queryset = queryset.filter(sequence__gte=start)
    while True:
        page = queryset if last is None else queryset.filter(sequence__gt=last)
        rows = list(page.order_by("sequence").values_list(*fields)[:size])
        yield from rows
        if len(rows) < size:
            return
        last, size = rows[-1][position], batch


def first_sequence(queryset: QuerySet[AuditEvent]) -> int | None:
    """The lowest sequence ``queryset`` holds (None when it holds none), found quickly either way.

    PostgreSQL answers ``ORDER BY sequence LIMIT n`` under a filter by walking the primary key
    and skipping what does not match, as if matches were spread evenly: for a time range at the
    end of ten million events it reads nearly all of them first. When the planner expects the
    filter to match less than half the log, the lowest matching sequence is taken instead as
    the minimum over the filter's own index (the time index for a time range, which carries the
    sequence so that the table is not read), which costs what the filter matches; otherwise the
    primary key walk is the cheap one. Exact either way.
    """
    plan = json.loads(queryset.order_by().values("sequence").explain(format="json"))
    matching = plan[0]["Plan"]["Plan Rows"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [AuditEvent._meta.db_table]
        )
        total = max(cursor.fetchone()[0], 0)
    if matching * 2 < total:
        # "+ 0": not min() by the primary key, which is the walk this avoids.
        return queryset.order_by().aggregate(first=Min(F("sequence") + 0))["first"]
    return queryset.order_by("sequence").values_list("sequence", flat=True).first()
