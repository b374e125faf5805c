from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    """Retention policies: rules that evaluate the inventory and propose lifecycle requests."""

    name = "policies"
