"""Helpers of the action spec tests: make a spec's calls against the sandbox, read the image."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from inventory.choices import ImageState
from inventory.models import Image
from inventory.services.aws import AwsSession
from lifecycle.actions import ACTIONS
from lifecycle.models import LifecycleRequest
from lifecycle.services.execution import observe_or_gone
from tests.amidash.sandbox.images import REGION
from tests.factories import image


def perform(aws: Any, request: LifecycleRequest) -> dict[str, Any]:
    """Make the calls the request's spec describes for its one item; returns the answer kept."""
    spec, item = ACTIONS[request.action], request.items.select_related("image").get()
    answers = []
    for call in spec.calls(item, request.parameters):
        answer = getattr(aws.client(call.service, call.region), call.method)(**call.arguments)
        answers.append((call, answer))
    return spec.answer(answers)


def observed(image_id: str, region: str = REGION) -> dict[str, Any]:
    """The image as AWS shows it now, as the effect checks read it."""
    session = AwsSession(image(image_id).account)
    return observe_or_gone(session, region, image_id).state()


def shown(action: str, image_id: str) -> bool:
    """Does the spec's effect check see its effect on the image now?"""
    request = LifecycleRequest.objects.filter(action=action).latest("pk")
    return ACTIONS[action].effect_visible(observed(image_id), request.parameters)


def unsaved_image(
    state: str = ImageState.AVAILABLE, deprecated: bool = False, gone: bool = False
) -> Image:
    """An image row as last observed (not saved: applies-to reads its fields only)."""
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    return Image(
        image_id="ami-0123456789abcdef0",
        state=state,
        deprecation_time=moment if deprecated else None,
        gone_at=moment if gone else None,
    )
