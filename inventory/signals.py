"""Domain signals: what the inventory observed. Lifecycle records them in the audit log.

Senders are the Image / SyncRun model classes. Every signal is sent inside the transaction that
saves the observation, so a receiver writing to the database commits or rolls back with it.

Keyword arguments:
- image_appeared, image_state_changed, image_deprecation_changed, image_gone:
  ``image`` (inventory Image), ``before`` (dict or None), ``after`` (dict or None),
  ``sync_run`` (SyncRun or None), ``actor`` (User or None: None means the system part named by
  ``source``), ``source`` (str: "sync", "web", "cli", "worker", "beat").
- sync_finished: ``sync_run`` (SyncRun), ``actor``, ``source``.
"""

from django.dispatch import Signal

image_appeared = Signal()
image_state_changed = Signal()
image_deprecation_changed = Signal()
image_gone = Signal()
sync_finished = Signal()
