from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class LifecycleConfig(AppConfig):
    """What should happen: requests, approvals, execution (the only AWS writes), audit."""

    name = "lifecycle"

    def ready(self) -> None:
        from lifecycle import receivers
        from lifecycle.actions import offer_on_image_pages

        check_approvals_required(settings.LIFECYCLE_APPROVALS_REQUIRED)
        receivers.connect()
        offer_on_image_pages()


def check_approvals_required(approvals: dict[str, int]) -> None:
    """Stop on an action name ``AMIDASH_APPROVALS_REQUIRED`` misspells: that action would keep
    needing one approval while the operator believes it needs more. Checked here, not in
    settings, because the actions are lifecycle's to define."""
    from lifecycle.actions import ACTIONS

    unknown = sorted(set(approvals) - set(ACTIONS))
    if unknown:
        raise ImproperlyConfigured(
            f"AMIDASH_APPROVALS_REQUIRED names unknown actions: {', '.join(unknown)} "
            f"(actions: {', '.join(ACTIONS)})"
        )
