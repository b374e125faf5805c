from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    """Retention policies: rules that evaluate the inventory and propose lifecycle requests."""

    name = "policies"

    def ready(self) -> None:
        from inventory import signals
        from inventory.views.overview import register_cleanup_panel
        from policies import receivers
        from policies.overview import cleanup_panel

        register_cleanup_panel(cleanup_panel)
        signals.sync_finished.connect(
            receivers.plan_unplanned_policies, dispatch_uid="policies-first-plans"
        )
