from django.apps import AppConfig
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_migrate
from django.urls import register_converter


class AmidashConfig(AppConfig):
    """The project itself: roles, sign-in, health, and the simulated AWS sandbox commands."""

    name = "amidash"
    verbose_name = "amidash"

    def ready(self) -> None:
        from amidash.fields import IdConverter
        from amidash.roles import restore_role_groups
        from amidash.sessions import stamp_activity
        from amidash.twofactor import stamp_sign_in

        post_migrate.connect(restore_role_groups, dispatch_uid="restore_role_groups")
        register_converter(IdConverter, "id")
        user_logged_in.connect(stamp_activity, dispatch_uid="stamp_session_activity")
        user_logged_in.connect(stamp_sign_in, dispatch_uid="stamp_sign_in")
        if settings.OIDC_ENABLED:  # a bad role map stops every process, not the first sign-in
            from amidash.oidc import parse_role_map

            parse_role_map("AMIDASH_OIDC_ROLE_MAP", settings.OIDC_ROLE_MAP_RAW)
