"""Inventory models; each module is re-exported here."""

from inventory.models.accounts import Account, AccountRegion
from inventory.models.images import Image, ImageUsage, image_family
from inventory.models.sync import SyncRegionResult, SyncRun

__all__ = [
    "Account",
    "AccountRegion",
    "Image",
    "ImageUsage",
    "SyncRegionResult",
    "SyncRun",
    "image_family",
]
