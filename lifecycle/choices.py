"""States and kinds of lifecycle requests (TextChoices; transitions live on the models)."""

from __future__ import annotations

from django.db import models


class LifecycleAction(models.TextChoices):
    """What a request asks AWS to do to each of its images: the stored value and its label.

    What each action does is its spec in ``lifecycle.actions``.
    """

    DEPRECATE = "deprecate", "Deprecate"
    CANCEL_DEPRECATION = "cancel_deprecation", "Cancel deprecation"
    DISABLE = "disable", "Disable"
    ENABLE = "enable", "Re-enable"
    DEREGISTER = "deregister", "Deregister"
    RESTORE = "restore", "Restore from Recycle Bin"
    COPY = "copy", "Copy to Regions"
    UNSHARE = "unshare", "Unshare (remove launch permissions)"
    ALLOWED_IMAGES = "allowed_images", "Change Allowed AMIs"


class RequestStatus(models.TextChoices):
    """pending -> approved -> executing -> succeeded | partly_failed | failed | needs_review;
    pending -> rejected | cancelled | expired.

    ``needs_review``: some item's outcome could not be proven from AWS (invariant 10 in
    docs/architecture.md); a person looks at AWS and the audit trail. Nothing acts on it again.
    """

    PENDING = "pending", "Pending approval"
    APPROVED = "approved", "Approved"
    EXECUTING = "executing", "Executing"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTLY_FAILED = "partly_failed", "Partly failed"
    FAILED = "failed", "Failed"
    NEEDS_REVIEW = "needs_review", "Needs review"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


#: Terminal request states.
FINAL_REQUEST_STATES = frozenset(
    {
        RequestStatus.SUCCEEDED,
        RequestStatus.PARTLY_FAILED,
        RequestStatus.FAILED,
        RequestStatus.NEEDS_REVIEW,
        RequestStatus.REJECTED,
        RequestStatus.CANCELLED,
        RequestStatus.EXPIRED,
    }
)


class ItemStatus(models.TextChoices):
    """pending -> executing -> succeeded | failed | stale | needs_review; pending -> cancelled;
    executing -> pending when its lease expired before any AWS mutation was sent."""

    PENDING = "pending", "Pending"
    EXECUTING = "executing", "Executing"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    STALE = "stale", "Stale (drifted)"
    NEEDS_REVIEW = "needs_review", "Needs review"
    CANCELLED = "cancelled", "Not run"


FINAL_ITEM_STATES = frozenset(
    {
        ItemStatus.SUCCEEDED,
        ItemStatus.FAILED,
        ItemStatus.STALE,
        ItemStatus.NEEDS_REVIEW,
        ItemStatus.CANCELLED,
    }
)


class Decision(models.TextChoices):
    """An approver's decision on a request."""

    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"
