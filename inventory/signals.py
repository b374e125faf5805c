"""Domain signals: what the inventory observed. Lifecycle records them in the audit log.

Senders are the Image / SyncRun model classes. Every signal is sent inside the transaction that
saves the observation, so a receiver writing to the database commits or rolls back with it.

Keyword arguments:
- image_appeared, image_state_changed, image_deprecation_changed, image_gone (one image, such as
  an image a lifecycle action changed): ``image`` (inventory Image), ``before`` (dict or None),
  ``after`` (dict or None), ``sync_run`` (SyncRun or None), ``actor`` (User or None: None means
  the system part named by ``source``), ``source`` (str: "sync", "web", "cli", "worker", "beat").
- images_observed (what one sync of an account+Region observed, in one go: a first sync may
  see 100,000 images): ``observations`` (list of ImageObservation, in order), ``sync_run``,
  ``actor``, ``source``.
- sync_finished: ``sync_run`` (SyncRun), ``actor``, ``source``.

``before`` and ``after`` are ``Image.observed()`` dicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.dispatch import Signal

image_appeared = Signal()
image_state_changed = Signal()
image_deprecation_changed = Signal()
image_gone = Signal()
images_observed = Signal()
sync_finished = Signal()


@dataclass(frozen=True)
class ImageObservation:
    """One change seen by a sync; ``signal`` is the per-image signal it stands for."""

    signal: Signal
    image_id: str
    account_id: str
    region: str
    name: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[Signal]:
    """The per-image signals an observed image stands for: ``before`` None means it appeared;
    otherwise a changed state, a changed deprecation time, both or neither."""
    if before is None:
        return [image_appeared]
    found = []
    if before["state"] != after["state"]:
        found.append(image_state_changed)
    if before["deprecation_time"] != after["deprecation_time"]:
        found.append(image_deprecation_changed)
    return found
