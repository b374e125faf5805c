"""The sandbox's clock: AWS time that tests can move forward (cooldowns, retention, deprecation).

Every time-dependent rule of the sandbox reads `now()`, never datetime.now() directly.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

_lock = threading.Lock()
_offset = timedelta(0)


def now() -> datetime:
    with _lock:
        return datetime.now(UTC) + _offset


def advance(seconds: float) -> datetime:
    """Move the clock forward (never back) and return the new time."""
    global _offset
    if seconds < 0:
        raise ValueError("the sandbox clock only moves forward")
    with _lock:
        _offset += timedelta(seconds=seconds)
    return now()


def reset() -> None:
    global _offset
    with _lock:
        _offset = timedelta(0)
