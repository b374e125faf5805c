"""Deregister: DeregisterImage, optionally deleting the snapshots no other image uses.

Without a matching Recycle Bin rule the image is deleted at once; with one it goes to the bin,
so the preview reads the retention rules to say which.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django import forms

from lifecycle.actions.base import ActionSpec
from lifecycle.choices import LifecycleAction

if TYPE_CHECKING:
    from lifecycle.models import RequestItem
    from lifecycle.services.preview import ImagePreview


class Deregister(ActionSpec):
    """Guarded, and offered for any image that still exists."""

    action = LifecycleAction.DEREGISTER
    undo = "Restore from the Recycle Bin while retained; otherwise none"
    operation = "DeregisterImage"
    guarded = True
    reads_recycle_bin = True
    warns_of_descendants = True

    def warnings(self, preview: ImagePreview) -> list[str]:
        found = []
        if preview.protected:
            found.append("deregistration protection is on: AWS will refuse")
        if preview.descendants:
            count, shown = len(preview.descendants), ", ".join(preview.descendants[:5])
            more = f" and {count - 5} more" if count > 5 else ""
            found.append(
                f"{count} current descendant{'s' if count > 1 else ''} ({shown}{more}) were "
                "copied from it: they stay, but their lineage will end at a deregistered image"
            )
        return found

    def form_fields(self) -> dict[str, forms.Field]:
        return {
            "delete_snapshots": forms.BooleanField(
                required=False, label="Also delete its snapshots"
            )
        }

    def clean_parameters(self, parameters: dict[str, Any], now: datetime) -> dict[str, Any]:
        return {"delete_snapshots": bool(parameters.get("delete_snapshots"))}

    def describe_parameters(self, parameters: dict[str, Any]) -> list[tuple[str, str]]:
        if parameters.get("delete_snapshots"):
            return [("Snapshots", "deleted with the image (when no other image uses them)")]
        return [("Snapshots", "kept")]

    def arguments(self, item: RequestItem, parameters: dict[str, Any]) -> dict[str, Any]:
        delete = bool(parameters.get("delete_snapshots"))
        return {"ImageId": item.ami_id, "DeleteAssociatedSnapshots": delete}

    def effect_visible(self, state: dict[str, Any], parameters: dict[str, Any]) -> bool:
        return state["gone"]
