from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    """What should happen: requests, approvals, execution (the only AWS writes), audit."""

    name = "lifecycle"

    def ready(self) -> None:
        from lifecycle import receivers
        from lifecycle.actions import offer_on_image_pages

        receivers.connect()
        offer_on_image_pages()
