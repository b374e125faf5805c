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
from lifecycle.models.verification import AuditVerification

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
    "AuditVerification",
    "LifecycleRequest",
    "PacingBucket",
    "RequestItem",
    "TransitionError",
]
