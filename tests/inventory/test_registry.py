"""inventory.registry: image actions other apps register, grouped by the URL they are sent to."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

from inventory.models import Image
from inventory.registry import ImageAction, ImageActions


def _action(key: str, url_name: str = "app:act", applies: bool = True) -> ImageAction:
    return ImageAction(key, key.title(), url_name, "app.act", lambda image: applies)


def test_it_keeps_registration_order_and_replaces_a_key_registered_again() -> None:
    registry = ImageActions()
    registry.register(_action("one"))
    registry.register(_action("two"))
    registry.register(_action("one", url_name="app:other"))
    assert [(a.key, a.url_name) for a in registry] == [("one", "app:other"), ("two", "app:act")]


def test_it_offers_for_an_image_only_the_actions_that_apply() -> None:
    registry = ImageActions()
    registry.register(_action("fits"))
    registry.register(_action("does-not", applies=False))
    assert [a.key for a in registry.for_image(Image())] == ["fits"]


def test_the_selection_offers_the_actions_sharing_the_first_url() -> None:
    registry = ImageActions()
    assert registry.selection() == (None, [])
    for action in (_action("a"), _action("b", url_name="app:b"), _action("c")):
        registry.register(action)
    url_name, actions = registry.selection()
    assert url_name == "app:act" and [a.key for a in actions] == ["a", "c"]
    assert [name for name, _ in registry.grouped(list(registry))] == ["app:act", "app:b"]


def test_nobody_without_the_permission_may_ask_for_an_action() -> None:
    registry = ImageActions()
    registry.register(_action("a"))
    assert registry.allowed(AnonymousUser(), list(registry)) == []
