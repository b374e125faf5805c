"""Disable: DisableImage. AWS removes every launch permission; nobody can launch it any more."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from inventory.choices import ImageState
from lifecycle.actions.base import ActionSpec
from lifecycle.choices import LifecycleAction

if TYPE_CHECKING:
    from inventory.models import Image
    from lifecycle.services.preview import ImagePreview


class Disable(ActionSpec):
    """Guarded: an image in use is refused unless the request carries an override."""

    action = LifecycleAction.DISABLE
    undo = "Re-enable (old launch permissions are not restored)"
    operation = "DisableImage"
    guarded = True
    removes_launch_permissions = True

    def applies_to(self, image: Image) -> bool:
        return not image.is_gone and not image.is_disabled

    def warnings(self, preview: ImagePreview) -> list[str]:
        if preview.public or preview.shared_with:
            return ["public or shared: disabling removes every launch permission"]
        return []

    def effect_visible(self, state: dict[str, Any], parameters: dict[str, Any]) -> bool:
        return state["state"] == ImageState.DISABLED
