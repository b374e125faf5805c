"""The lifecycle actions, one ``ActionSpec`` per ``LifecycleAction`` (see ``base``).

``LifecycleAction`` stays the stored vocabulary (the value in the database and its label);
everything else about an action comes from its spec here. Adding an action is a member of
``LifecycleAction``, a module in this package and its line in ``ACTIONS``.
"""

from __future__ import annotations

from lifecycle.actions.base import ActionSpec, AwsCall
from lifecycle.actions.cancel_deprecation import CancelDeprecation
from lifecycle.actions.copy import Copy
from lifecycle.actions.deprecate import Deprecate
from lifecycle.actions.deregister import Deregister
from lifecycle.actions.disable import Disable
from lifecycle.actions.enable import Enable
from lifecycle.actions.restore import Restore

#: Every action's spec, in the order pages offer them.
ACTIONS: dict[str, ActionSpec] = {
    spec.key: spec
    for spec in (
        Deprecate(),
        CancelDeprecation(),
        Disable(),
        Enable(),
        Deregister(),
        Restore(),
        Copy(),
    )
}


def action_choices() -> list[tuple[str, str]]:
    """(value, label) of every action, for choice fields."""
    return [(spec.key, spec.label) for spec in ACTIONS.values()]


def offer_on_image_pages() -> None:
    """Register every action with inventory's image pages: a request for it, for requesters."""
    from inventory.registry import ImageAction, image_actions
    from lifecycle.services.requests import REQUEST_PERMISSION

    for spec in ACTIONS.values():
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
