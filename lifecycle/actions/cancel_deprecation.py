"""Cancel deprecation: DisableImageDeprecation on an image that has a deprecation time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lifecycle.actions.base import ActionSpec
from lifecycle.choices import LifecycleAction

if TYPE_CHECKING:
    from inventory.models import Image


class CancelDeprecation(ActionSpec):
    """Only offered for an image with a deprecation time, scheduled or passed."""

    action = LifecycleAction.CANCEL_DEPRECATION
    undo = "Deprecate again"
    operation = "DisableImageDeprecation"

    def applies_to(self, image: Image) -> bool:
        return not image.is_gone and not image.is_disabled and image.deprecation_time is not None

    def effect_visible(self, state: dict[str, Any], parameters: dict[str, Any]) -> bool:
        return not state["gone"] and state.get("deprecation_time") is None
