"""Inventory models; each module is re-exported here."""

from inventory.models.accounts import Account, AccountRegion
from inventory.models.allowed_images import AllowedImagesSetting, InstanceImage
from inventory.models.consumers import ConsumerReport, ImageConsumer
from inventory.models.images import Image, ImageUsage, image_family, in_use_sql
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
    "AllowedImagesSetting",
    "ConsumerReport",
    "Image",
    "ImageConsumer",
    "ImageQ",
    "ImageQuerySet",
    "ImageUsage",
    "InstanceImage",
    "SyncRegionResult",
    "SyncRun",
    "bucket_of",
    "image_family",
    "in_use_sql",
]
