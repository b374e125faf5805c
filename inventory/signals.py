"""Domain signals: what the inventory observed. Lifecycle records them in the audit log.

Senders are the Image / SyncRun model classes. Every signal is sent inside the transaction that
saves the observation, so a receiver writing to the database commits or rolls back with it.
Only the inventory's services send them (``inventory.services.images.announce``).

Keyword arguments:
- images_observed (what a sync of one account+Region, or a worker re-reading images around a
  lifecycle action, observed, in one go: a first sync may see 100,000 images): ``observations``
  (list of ImageObservation, in order), ``sync_run`` (SyncRun or None), ``actor`` (User or None:
  None means the system part named by ``source``), ``source`` (str: "sync", "web", "cli",
  "worker", "beat").
- sync_finished: ``sync_run`` (SyncRun), ``actor``, ``source``.
- consumers_reported (an AMI usage report of the image became available): ``image`` (Image),
  ``report`` (ConsumerReport), ``before`` and ``after`` (the consuming account ids),
  ``actor_name`` (str: who asked, empty for the paced pass).

image_appeared, image_state_changed, image_deprecation_changed, image_sharing_changed and
image_gone name the kind of each ImageObservation (its ``signal``); they are not sent on their
own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.dispatch import Signal

if TYPE_CHECKING:
    from inventory.observations import ObservedImage

image_appeared = Signal()
image_state_changed = Signal()
image_deprecation_changed = Signal()
image_sharing_changed = Signal()
image_gone = Signal()
images_observed = Signal()
sync_finished = Signal()
consumers_reported = Signal()

#: The kind of change a field stands for, when an image that was and is present changes.
_CHANGE_OF_FIELD = {"state": image_state_changed, "deprecation_time": image_deprecation_changed}


@dataclass(frozen=True)
class ImageObservation:
    """One change seen of an image; ``signal`` is the kind of change it is."""

    signal: Signal
    image_id: str
    account_id: str
    region: str
    name: str
    before: ObservedImage | None
    after: ObservedImage


def changes(before: ObservedImage | None, after: ObservedImage) -> list[Signal]:
    """The kinds of change from ``before`` to ``after``.

    ``before`` None means the image was unknown or gone: it appeared, unless it still is gone.
    An image that went away (or came back) is that one change; otherwise a changed state, a
    changed deprecation time, changed sharing (see ``ObservedImage.sharing_changed``), any of
    them or none. A first sighting is only that: there was no sharing before it to change.
    """
    if before is None:
        return [] if after.is_gone else [image_appeared]
    changed = before.changes(after)
    if "gone" in changed:
        return [image_gone if after.is_gone else image_appeared]
    kinds = [_CHANGE_OF_FIELD[name] for name in changed if name in _CHANGE_OF_FIELD]
    if before.sharing_changed(after):
        kinds.append(image_sharing_changed)
    return kinds


def observations(before: ObservedImage | None, after: ObservedImage) -> list[ImageObservation]:
    """One ImageObservation per kind of change from ``before`` to ``after``."""
    image_id, account_id, region, name = after.image_id, after.account_id, after.region, after.name
    return [
        ImageObservation(kind, image_id, account_id, region, name, before, after)
        for kind in changes(before, after)
    ]
