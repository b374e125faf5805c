"""What other apps add to inventory's pages, registered in their ``AppConfig.ready()``.

Inventory never imports the apps that act on images; they register here instead. An
``ImageAction`` is a button on the image page and an option of the image list's selection: the
page sends the image(s) with ``action=<key>`` to the action's URL, for users with its permission.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractBaseUser

if TYPE_CHECKING:
    from inventory.models import Image


@dataclass(frozen=True)
class ImageAction:
    """One action offered on images: its key, label, target URL name and permission.

    ``applies_to`` says whether the image page offers it for an image as last observed; the
    target page still decides for real. ``danger`` shows it as a dangerous button.
    """

    key: str
    label: str
    url_name: str
    permission: str
    applies_to: Callable[[Image], bool]
    danger: bool = False


class ImageActions:
    """The registered image actions, in registration order (registering a key again replaces)."""

    def __init__(self) -> None:
        self._actions: dict[str, ImageAction] = {}

    def register(self, action: ImageAction) -> None:
        self._actions[action.key] = action

    def __iter__(self) -> Iterator[ImageAction]:
        return iter(self._actions.values())

    def for_image(self, image: Image) -> list[ImageAction]:
        return [action for action in self if action.applies_to(image)]

    def allowed(self, user: AbstractBaseUser, actions: list[ImageAction]) -> list[ImageAction]:
        """The ``actions`` the user may ask for."""
        return [action for action in actions if user.has_perm(action.permission)]

    def grouped(self, actions: list[ImageAction]) -> list[tuple[str, list[ImageAction]]]:
        """``actions`` by the URL name they are sent to (one form each), in order."""
        groups: dict[str, list[ImageAction]] = {}
        for action in actions:
            groups.setdefault(action.url_name, []).append(action)
        return list(groups.items())

    def selection(self) -> tuple[str | None, list[ImageAction]]:
        """The URL name the image list's selection form sends to, and the actions it offers.

        One form sends every selected image, so it offers the actions sharing the first
        registered action's URL; others are offered on the image page only.
        """
        groups = self.grouped(list(self))
        return groups[0] if groups else (None, [])


#: The actions other apps offer on images.
image_actions = ImageActions()
