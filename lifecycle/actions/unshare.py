"""Unshare: ModifyImageAttribute removes every launch permission (accounts, organizations, OUs
and the public group), so no other account can launch the image any more.

Guarded like disable and deregister: another account that still uses the image (its latest
usage report names it), or an exposed image whose usage by others is unknown, is refused unless
the request carries an override. The image's own account keeps launching it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lifecycle.actions.base import ActionSpec
from lifecycle.choices import LifecycleAction

if TYPE_CHECKING:
    from inventory.models import Image
    from lifecycle.models import RequestItem
    from lifecycle.services.preview import ImagePreview


def launch_permission(target: str) -> dict[str, str]:
    """One launch permission as ModifyImageAttribute names it, from a ``shared_with`` entry."""
    if ":ou/" in target:
        return {"OrganizationalUnitArn": target}
    if ":organization/" in target:
        return {"OrganizationArn": target}
    return {"UserId": target}


class Unshare(ActionSpec):
    """Offered for public or shared images; what is removed is what the inventory last read."""

    action = LifecycleAction.UNSHARE
    undo = "Share the image again (ModifyImageAttribute, add launch permissions)"
    operation = "ModifyImageAttribute"
    guarded = True
    removes_launch_permissions = True

    def applies_to(self, image: Image) -> bool:
        return not image.is_gone and (image.public or bool(image.shared_with))

    def refusal(self, image: Image) -> str:
        if not image.is_gone and not (image.public or image.shared_with):
            return "the image is neither public nor shared"
        return super().refusal(image)

    def warnings(self, preview: ImagePreview) -> list[str]:
        if preview.consumers:
            return [f"{len(preview.consumers)} other account(s) lose the right to launch it"]
        return []

    def arguments(self, item: RequestItem, parameters: dict[str, Any]) -> dict[str, Any]:
        image = item.image
        removed = [launch_permission(target) for target in image.shared_with or []]
        if image.public:
            removed.append({"Group": "all"})
        return {"ImageId": item.ami_id, "LaunchPermission": {"Remove": removed}}

    def effect_visible(self, state: dict[str, Any], parameters: dict[str, Any]) -> bool:
        return not state.get("public", False)
