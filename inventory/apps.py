from django.apps import AppConfig


class InventoryConfig(AppConfig):
    """What exists in AWS: accounts, Regions, images, usage, sync runs; reads AWS only."""

    name = "inventory"

    def ready(self) -> None:
        from inventory import signals
        from inventory.services.snapshots import snapshot_when_finished

        signals.sync_finished.connect(snapshot_when_finished, dispatch_uid="estate-snapshot")
