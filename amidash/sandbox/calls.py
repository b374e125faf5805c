"""The sandbox's call log: every AWS API call it answered, so tests can count what happened.

Each entry is a plain dict (JSON-ready, the same in-process and through the control endpoint):
``{"seq", "service", "action", "account_id", "region", "time", "params", "fault"}`` where
``params`` keeps the request parameters that identify what was acted on (``ImageId``,
``InstanceId``, ``RoleArn``, ...), list parameters folded into lists, and ``fault`` names the
injected fault that answered the call instead of moto (``None`` when moto answered it).
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from amidash.sandbox import clock

# Parameters worth keeping: identifiers and the arguments of lifecycle actions. Everything else
# (filters, pagination tokens, user data) only makes the log noisy.
KEY_PARAMETERS = frozenset(
    {
        "ImageId",
        "ImageIds",
        "InstanceId",
        "InstanceIds",
        "SnapshotId",
        "SnapshotIds",
        "SourceImageId",
        "SourceRegion",
        "Name",
        "Owners",
        "DeprecateAt",
        "DeleteAssociatedSnapshots",
        "IncludeDeprecated",
        "IncludeDisabled",
        "LaunchPermission",
        "Attribute",
        "LaunchTemplateId",
        "LaunchTemplateName",
        "AutoScalingGroupName",
        "AutoScalingGroupNames",
        "LaunchConfigurationName",
        "LaunchConfigurationNames",
        "RoleArn",
        "RoleSessionName",
        "ExternalId",
        "SourceIdentity",
        "Identifier",
        "ResourceType",
        "AllRegions",
        "MaxResults",
        "NextToken",
    }
)
_INDEXED = re.compile(r"^(?P<name>[A-Za-z]+)\.(?:member\.)?\d+$")
_MAX_ENTRIES = 100_000

_lock = threading.Lock()
_entries: list[dict[str, Any]] = []
_sequence = 0


def record(
    *,
    service: str,
    action: str,
    account_id: str,
    region: str,
    params: dict[str, Any],
    fault: str | None = None,
) -> dict[str, Any]:
    """Append one call to the log and return its entry (the fault may be filled in later)."""
    global _sequence
    entry = {
        "service": service,
        "action": action,
        "account_id": account_id,
        "region": region,
        "time": clock.now().isoformat(),
        "params": params,
        "fault": fault,
    }
    with _lock:
        _sequence += 1
        entry["seq"] = _sequence
        _entries.append(entry)
        if len(_entries) > _MAX_ENTRIES:
            del _entries[: len(_entries) - _MAX_ENTRIES]
    return entry


def calls(
    action: str | None = None,
    account_id: str | None = None,
    region: str | None = None,
    service: str | None = None,
    include_faulted: bool = True,
) -> list[dict[str, Any]]:
    """The recorded calls, oldest first, narrowed by any of the given criteria."""
    with _lock:
        entries = list(_entries)
    return [
        dict(entry)
        for entry in entries
        if (action is None or entry["action"] == action)
        and (account_id is None or entry["account_id"] == account_id)
        and (region is None or entry["region"] == region)
        and (service is None or entry["service"] == service)
        and (include_faulted or entry["fault"] is None)
    ]


def clear() -> None:
    with _lock:
        _entries.clear()


def key_parameters(querystring: dict[str, Any], body: Any = None) -> dict[str, Any]:
    """The identifying parameters of a request: query/EC2 form fields or a JSON body."""
    found: dict[str, Any] = {}
    for key, values in (querystring or {}).items():
        value = values[0] if isinstance(values, list) and len(values) == 1 else values
        match = _INDEXED.match(key)
        if match and match.group("name") in KEY_PARAMETERS:
            found.setdefault(match.group("name"), []).append(value)
        elif key in KEY_PARAMETERS:
            found[key] = value
    if not found and body:
        found.update(_json_key_parameters(body))
    return found


def _json_key_parameters(body: Any) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str) or not body.lstrip().startswith("{"):
        return {}
    try:
        document = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(document, dict):
        return {}
    return {key: value for key, value in document.items() if key in KEY_PARAMETERS}
