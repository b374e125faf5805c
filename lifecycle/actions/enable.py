"""Re-enable: EnableImage on a disabled image (its old launch permissions stay removed)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from inventory.choices import ImageState
from lifecycle.actions.base import ActionSpec
from lifecycle.choices import LifecycleAction

if TYPE_CHECKING:
    from inventory.models import Image


class Enable(ActionSpec):
    """Only offered for a disabled image."""

    action = LifecycleAction.ENABLE
    undo = "Disable"
    operation = "EnableImage"

    def applies_to(self, image: Image) -> bool:
        return not image.is_gone and image.is_disabled

    def effect_visible(self, state: dict[str, Any], parameters: dict[str, Any]) -> bool:
        return state["state"] == ImageState.AVAILABLE
