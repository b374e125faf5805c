from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.urls import register_converter


class AmidashConfig(AppConfig):
    """The project itself: roles, sign-in, health, and the simulated AWS sandbox commands."""

    name = "amidash"
    verbose_name = "amidash"

    def ready(self) -> None:
        from amidash.fields import IdConverter
        from amidash.roles import restore_role_groups

        post_migrate.connect(restore_role_groups, dispatch_uid="restore_role_groups")
        register_converter(IdConverter, "id")
