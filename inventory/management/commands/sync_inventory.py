"""``manage.py sync_inventory [--account ID] [--region NAME]``: a synchronous sync.

One summary line per account+Region. Exit 0 when every Region completed, 1 when any Region
failed (the rest are still saved), 2 for a usage error.
"""

from __future__ import annotations

import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from amidash.fields import AccountIdField, IntegerField, RegionField, argument_type
from inventory.choices import SyncStatus, SyncTrigger
from inventory.models import SyncRegionResult
from inventory.services.sync import SyncScopeError, run_sync

MAX_CONCURRENCY = 64

ACCOUNT_ARGUMENT = argument_type(AccountIdField(), "account id")
REGION_ARGUMENT = argument_type(RegionField(), "Region name")
CONCURRENCY_ARGUMENT = argument_type(
    IntegerField(
        min_value=1,
        max_value=MAX_CONCURRENCY,
        error_messages={"min_value": "must be at least 1"},
    ),
    "number",
)


class Command(BaseCommand):
    help = "Sync the inventory now with the ambient AWS configuration, in this process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--account", action="append", dest="accounts", metavar="ID", type=ACCOUNT_ARGUMENT
        )
        parser.add_argument(
            "--region", action="append", dest="regions", metavar="NAME", type=REGION_ARGUMENT
        )
        parser.add_argument(
            "--concurrency",
            type=CONCURRENCY_ARGUMENT,
            default=settings.SYNC_REGIONS_PER_ACCOUNT,
            help="account+Regions listed at once (default AMIDASH_SYNC_REGIONS_PER_ACCOUNT)",
        )

    def handle(
        self,
        *args: Any,
        accounts: list[str] | None,
        regions: list[str] | None,
        concurrency: int,
        **options: Any,
    ) -> None:
        try:
            run = run_sync(
                None,
                account_ids=accounts,
                regions=regions,
                source=SyncTrigger.CLI,
                concurrency=concurrency,
                on_result=self._print_result,
            )
        except SyncScopeError as error:
            self._usage_error(str(error))
        self.stdout.write(
            f"Sync #{run.pk} {run.status}: {run.regions_succeeded} Regions synced, "
            f"{run.regions_failed} failed, {run.regions_skipped} skipped; "
            f"{run.images_seen} images ({run.images_created} new, {run.images_changed} changed, "
            f"{run.images_gone} gone); {run.api_calls} API calls"
            + (f"; {run.error}" if run.error else "")
        )
        if run.status != SyncStatus.SUCCEEDED:
            sys.exit(1)

    def _print_result(self, result: SyncRegionResult) -> None:
        self.stdout.write(result.summary_line())
        self.stdout.flush()

    def _usage_error(self, message: str) -> None:
        self.stderr.write(f"sync_inventory: {message}")
        sys.exit(2)
