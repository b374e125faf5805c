from django.apps import AppConfig


class AmidashConfig(AppConfig):
    """The project itself: roles, sign-in, health, and the simulated AWS sandbox commands."""

    name = "amidash"
    verbose_name = "amidash"
