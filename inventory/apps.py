from django.apps import AppConfig


class InventoryConfig(AppConfig):
    """What exists in AWS: accounts, Regions, images, usage, sync runs; reads AWS only."""

    name = "inventory"
