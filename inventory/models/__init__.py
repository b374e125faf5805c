"""Inventory models; each module is re-exported here."""

from inventory.models.accounts import Account, AccountRegion
from inventory.models.images import Image, ImageUsage, image_family
from inventory.models.lineage import ImageAncestry, ImageFindings
from inventory.models.querysets import (
    AGE_BUCKETS,
    AccountQuerySet,
    AccountRowQuerySet,
    ImageQ,
    ImageQuerySet,
    bucket_of,
)
from inventory.models.sync import SyncRegionResult, SyncRun

__all__ = [
    "AGE_BUCKETS",
    "Account",
    "AccountQuerySet",
    "AccountRegion",
    "AccountRowQuerySet",
    "Image",
    "ImageAncestry",
    "ImageFindings",
    "ImageQ",
    "ImageQuerySet",
    "ImageUsage",
    "SyncRegionResult",
    "SyncRun",
    "bucket_of",
    "image_family",
]
