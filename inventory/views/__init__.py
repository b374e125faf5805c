"""Dashboard views: overview, images (list, detail, export), sync runs, accounts."""

from inventory.views.accounts import account_list
from inventory.views.images import (
    image_consumer_report,
    image_detail,
    image_export,
    image_list,
)
from inventory.views.overview import overview, overview_trend
from inventory.views.sync import sync_now, sync_run_detail, sync_runs

__all__ = [
    "account_list",
    "image_consumer_report",
    "image_detail",
    "image_export",
    "image_list",
    "overview",
    "overview_trend",
    "sync_now",
    "sync_run_detail",
    "sync_runs",
]
