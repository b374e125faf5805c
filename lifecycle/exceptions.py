"""Errors the lifecycle services raise for the user to read."""

from __future__ import annotations


class RequestError(ValueError):
    """A request or decision that cannot be made; the message is shown to the user.

    ``field`` names the form field the message is about, if it is about one.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
