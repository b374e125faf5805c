"""Restore: RestoreImageFromRecycleBin for a deregistered image the bin still holds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lifecycle.actions.base import ActionSpec
from lifecycle.choices import LifecycleAction

if TYPE_CHECKING:
    from inventory.models import Image
    from lifecycle.services.execution import Observation


class Restore(ActionSpec):
    """Only for a gone image; approved while gone, so the image reappearing is the drift."""

    action = LifecycleAction.RESTORE
    undo = "Deregister"
    operation = "RestoreImageFromRecycleBin"

    def applies_to(self, image: Image) -> bool:
        return image.is_gone

    def refusal(self, image: Image) -> str:
        return "" if image.is_gone else "the image is not deregistered: nothing to restore"

    def drift(self, approved: dict[str, Any], observation: Observation, override: bool) -> str:
        if not observation.image.is_gone:
            return "the image exists again: nothing to restore"
        if not observation.in_recycle_bin:
            return "the image is not in the Recycle Bin any more"
        return ""

    def effect_visible(self, state: dict[str, Any], parameters: dict[str, Any]) -> bool:
        return not state["gone"]
