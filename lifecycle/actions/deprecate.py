"""Deprecate: EnableImageDeprecation at a chosen time (the image stays launchable by id)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django import forms

from amidash.fields import DateTimeField
from inventory.services.listing import parse_time
from lifecycle.actions.base import ActionSpec, minute
from lifecycle.choices import LifecycleAction
from lifecycle.exceptions import RequestError
from lifecycle.templatetags.lifecycle_tags import utc_time

if TYPE_CHECKING:
    from inventory.models import Image
    from lifecycle.models import RequestItem

MAX_DEPRECATION_YEARS = 10
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]


def deprecation_time(value: Any, now: datetime) -> str:
    """EnableImageDeprecation's DeprecateAt: UTC, rounded to the minute, future, <= 10 years."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as error:
            raise RequestError(
                "The deprecation time is not a valid date and time.", "deprecate_at"
            ) from error
    if not isinstance(value, datetime):
        raise RequestError("A deprecation needs the date and time it takes effect.", "deprecate_at")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    rounded = (value + timedelta(seconds=30)).replace(second=0, microsecond=0)
    if rounded <= now:
        raise RequestError("The deprecation time must be in the future.", "deprecate_at")
    if rounded > now + timedelta(days=365 * MAX_DEPRECATION_YEARS + 2):
        raise RequestError("AWS accepts deprecation times at most 10 years ahead.", "deprecate_at")
    return rounded.isoformat().replace("+00:00", "Z")


class Deprecate(ActionSpec):
    """Only an image without a deprecation time is offered it (one with a time is cancelled)."""

    action = LifecycleAction.DEPRECATE
    undo = "Cancel deprecation"
    operation = "EnableImageDeprecation"

    def applies_to(self, image: Image) -> bool:
        return not image.is_gone and not image.is_disabled and image.deprecation_time is None

    def form_fields(self) -> dict[str, forms.Field]:
        return {
            "deprecate_at": DateTimeField(
                required=False,
                label="Deprecate at (UTC)",
                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                input_formats=DATETIME_FORMATS,
            )
        }

    def clean_parameters(self, parameters: dict[str, Any], now: datetime) -> dict[str, Any]:
        return {"deprecate_at": deprecation_time(parameters.get("deprecate_at"), now)}

    def describe_parameters(self, parameters: dict[str, Any]) -> list[tuple[str, str]]:
        return [("Deprecate at", utc_time(parameters.get("deprecate_at")))]

    def arguments(self, item: RequestItem, parameters: dict[str, Any]) -> dict[str, Any]:
        return {"ImageId": item.ami_id, "DeprecateAt": parse_time(parameters["deprecate_at"])}

    def effect_visible(self, state: dict[str, Any], parameters: dict[str, Any]) -> bool:
        return minute(state.get("deprecation_time")) == minute(parameters["deprecate_at"])
