"""Inventory models; each module is re-exported here."""

from inventory.models.accounts import Account, AccountRegion
from inventory.models.allowed_images import AllowedImagesSetting, InstanceImage
from inventory.models.consumers import ConsumerReport, ImageConsumer
from inventory.models.images import Image, ImageUsage, image_family, in_use_sql
from inventory.models.lineage import ImageAncestry, ImageFindings
from inventory.models.querysets import (
    AGE_BUCKETS,
    AccountQuerySet,
    AccountRowQuerySet,
    ImageQ,
    ImageQuerySet,
    age_in_days,
    bucket_of,
    deprecation_day_range,
)
from inventory.models.rollups import ImageRollup, rollup_condition
from inventory.models.sync import EstateSnapshot, SyncRegionResult, SyncRun

__all__ = [
    "AGE_BUCKETS",
    "Account",
    "AccountQuerySet",
    "AccountRegion",
    "AccountRowQuerySet",
    "AllowedImagesSetting",
    "ConsumerReport",
    "EstateSnapshot",
    "Image",
    "ImageAncestry",
    "ImageConsumer",
    "ImageFindings",
    "ImageQ",
    "ImageQuerySet",
    "ImageRollup",
    "ImageUsage",
    "InstanceImage",
    "SyncRegionResult",
    "SyncRun",
    "age_in_days",
    "bucket_of",
    "deprecation_day_range",
    "image_family",
    "in_use_sql",
    "rollup_condition",
]
