"""Lifecycle models; each module is re-exported here."""

from lifecycle.models.audit import (
    GENESIS_HASH,
    HASHED_FIELDS,
    ActorType,
    AuditEvent,
    AuditSource,
    AuditVerb,
)

__all__ = [
    "GENESIS_HASH",
    "HASHED_FIELDS",
    "ActorType",
    "AuditEvent",
    "AuditSource",
    "AuditVerb",
]
