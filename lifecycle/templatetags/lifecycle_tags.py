"""Template filters of the request pages: times stored as ISO strings, shown as people read them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from django import template
from django.utils import timezone

from inventory.services.listing import parse_time

register = template.Library()


def _parsed(value: object) -> datetime | None:
    """``value`` as an aware UTC time, or None when it is not a date and time."""
    try:
        moment = parse_time(value)
    except (TypeError, ValueError):
        return None
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@register.filter
def utc_time(value: object) -> str:
    """An ISO date and time as ``2027-01-15 10:00 UTC``; anything else unchanged."""
    moment = _parsed(value)
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else str(value or "")


@register.filter
def deprecation(value: object) -> str:
    """A deprecation time, said as past ("deprecated since ...") or to come ("deprecates ...")."""
    moment = _parsed(value)
    if moment is None:
        return f"deprecates {value}" if value else ""
    verb = "deprecated since" if moment <= timezone.now() else "deprecates"
    return f"{verb} {utc_time(moment)}"


@register.filter
def json_text(value: object) -> str:
    """A stored JSON answer as JSON (``true``, double quotes), not as Python would print it."""
    return json.dumps(value, separators=(", ", ": "), default=str)


@register.filter
def value_text(value: object) -> str:
    """One value of an event's data as an auditor reads it: text as it is, the rest as JSON."""
    return value if isinstance(value, str) else json_text(value)
