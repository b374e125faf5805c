"""The lifecycle actions: one ``ActionSpec`` subclass per module of this package (see ``base``).

Every module here but ``base`` defines one action, and this package finds them itself: adding an
action is adding a module (and its test file). ``LifecycleAction`` keeps names for the built-in
actions' stored values, so code and migrations can name them; the stored choices of a request's
action come from ``action_choices``, that is from the specs found here.
"""

from __future__ import annotations

import importlib
import pkgutil

from lifecycle.actions.base import ActionSpec, AwsCall
from lifecycle.choices import LifecycleAction


def _discover() -> dict[str, ActionSpec]:
    """One spec per module of the package, in the order pages offer them: the built-in actions
    in ``LifecycleAction``'s order, then any others by key."""
    specs = []
    for module in pkgutil.iter_modules(__path__):
        if module.name == "base":
            continue
        loaded = importlib.import_module(f"{__name__}.{module.name}")
        specs += [
            value()
            for value in vars(loaded).values()
            if isinstance(value, type)
            and issubclass(value, ActionSpec)
            and value.__module__ == loaded.__name__
        ]
    order = list(LifecycleAction.values)
    specs.sort(
        key=lambda spec: (order.index(spec.key) if spec.key in order else len(order), spec.key)
    )
    return {spec.key: spec for spec in specs}


def _position(key: str, built_in: list[str]) -> int:
    return built_in.index(key) if key in built_in else len(built_in)


#: Every action's spec, in the order pages offer them.
ACTIONS: dict[str, ActionSpec] = _discover()


def action_choices() -> list[tuple[str, str]]:
    """(value, label) of every action, for choice fields."""
    return [(spec.key, spec.label) for spec in ACTIONS.values()]


def offer_on_image_pages() -> None:
    """Register every action with inventory's image pages: a request for it, for requesters."""
    from inventory.registry import ImageAction, image_actions
    from lifecycle.services.requests import REQUEST_PERMISSION

    for spec in ACTIONS.values():
        if not spec.targets_images:
            continue
        image_actions.register(
            ImageAction(
                key=spec.key,
                label=spec.label,
                url_name="lifecycle:request_create",
                permission=REQUEST_PERMISSION,
                applies_to=spec.applies_to,
                danger=spec.danger,
            )
        )


__all__ = ["ACTIONS", "ActionSpec", "AwsCall", "action_choices", "offer_on_image_pages"]
