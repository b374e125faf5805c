"""What a policy decides for each image in its scope."""

from __future__ import annotations

from django.db import models


class PlanDecision(models.TextChoices):
    """keep, or the stage due now, or deferred when a limit holds an action back to a later run."""

    KEEP = "keep", "Keep"
    DEPRECATE = "deprecate", "Deprecate"
    DISABLE = "disable", "Disable"
    DEREGISTER = "deregister", "Deregister"
    DEFERRED = "deferred", "Deferred"


#: The decisions that become lifecycle requests (each is a lifecycle action of the same name).
ACTION_DECISIONS = (PlanDecision.DEPRECATE, PlanDecision.DISABLE, PlanDecision.DEREGISTER)
