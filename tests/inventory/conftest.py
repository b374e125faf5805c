"""Fixtures for the inventory tests: the sandbox, and the signals a sync sends."""

from __future__ import annotations

from typing import Any

import pytest

from amidash.sandbox import sandbox
from tests.amidash.sandbox.images import OTHER_REGION, REGION


@pytest.fixture
def aws(settings):
    """The sandbox, in-process, with the sync limited to two Regions to keep tests quick."""
    settings.SYNC_REGIONS = [REGION, OTHER_REGION]
    with sandbox() as handle:
        yield handle


@pytest.fixture
def observed_signals():
    """Every inventory domain signal sent during the test, as (name, kwargs)."""
    from inventory import signals

    sent: list[tuple[str, dict[str, Any]]] = []
    names = ["image_appeared", "image_state_changed", "image_deprecation_changed", "image_gone"]
    receivers = {}
    for name in [*names, "sync_finished"]:

        def receiver(sender: Any, _name: str = name, **kwargs: Any) -> None:
            sent.append((_name, kwargs))

        receivers[name] = receiver
        getattr(signals, name).connect(receiver, weak=False)
    names_of = {getattr(signals, name): name for name in names}

    def batch(sender: Any, observations: list[Any], **kwargs: Any) -> None:
        for item in observations:
            sent.append((names_of[item.signal], {**kwargs, "image": item, **vars(item)}))

    signals.images_observed.connect(batch, weak=False)
    yield sent
    signals.images_observed.disconnect(batch)
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)
