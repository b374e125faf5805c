"""Lifecycle models; each module is re-exported here."""

from lifecycle.models.audit import (
    GENESIS_HASH,
    HASHED_FIELDS,
    ActorType,
    AuditEvent,
    AuditSource,
    AuditVerb,
)
from lifecycle.models.requests import (
    AccountAccess,
    AccountScope,
    Approval,
    LifecycleRequest,
    PacingBucket,
    RequestItem,
    TransitionError,
)

__all__ = [
    "GENESIS_HASH",
    "HASHED_FIELDS",
    "AccountAccess",
    "AccountScope",
    "ActorType",
    "Approval",
    "AuditEvent",
    "AuditSource",
    "AuditVerb",
    "LifecycleRequest",
    "PacingBucket",
    "RequestItem",
    "TransitionError",
]
