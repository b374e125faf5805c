"""CloudTrail management events of the sandbox's EC2 mutations, and LookupEvents to read them.

moto records nothing in CloudTrail and lacks LookupEvents (docs/architecture.md, "The sandbox and
moto"). Here every EC2 call that changes something (an action that is not Describe*, Get* or
List*) and that moto answered with success is recorded as a management event of its account and
Region, on the sandbox clock, with the principal of the caller's credentials:

- an assumed-role session: ``AssumedRole``, its session issuer (the role) and, when the session
  was started with one, ``sessionContext.sourceIdentity``;
- an IAM user's access key: ``IAMUser`` and the user's name;
- any other key (the sandbox's own default credentials): ``Root`` of the account.

The source address is the first ``X-Forwarded-For`` address of the request when there is one
(so a demo or a test can say where a call came from), else the client's address, else
``127.0.0.1``. Calls answered by an injected fault, failed calls and the estate generator's own
calls (see ``faults.suspended``) are not recorded.

LookupEvents follows the CloudTrail API reference: exactly one LookupAttribute whose key is one
of EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource or
AccessKeyId (else ``InvalidLookupAttributesException``); StartTime / EndTime (a start after the
end is ``InvalidTimeRangeException``); MaxResults 1 to 50, default 50 (else
``InvalidMaxResultsException``); NextToken, valid only with the parameters of the call that
issued it (else ``InvalidNextTokenException``); newest events first; events older than 90 days
are never returned.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.core.exceptions import JsonRESTError

from amidash.sandbox import clock
from amidash.sandbox.extensions.common import region_exists

RETENTION = timedelta(days=90)
MAX_RESULTS = 50
EVENT_SOURCE = "ec2.amazonaws.com"
LOOKUP_KEYS = (
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
)
READ_ONLY_PREFIXES = ("Describe", "Get", "List")
#: EC2 resource ids by prefix, as CloudTrail names their resource types.
RESOURCE_TYPES = {
    "ami": "AWS::EC2::Ami",
    "snap": "AWS::EC2::Snapshot",
    "i": "AWS::EC2::Instance",
    "lt": "AWS::EC2::LaunchTemplate",
}
_RESOURCE_ID = re.compile(r"^(ami|snap|i|lt)-[0-9a-f]+$")
_NEW_IMAGE = re.compile(r"<imageId>(ami-[0-9a-f]+)</imageId>")
_INDEXED = re.compile(r"^(?P<name>[A-Za-z]+)\.(?P<rest>.+)$")


class CloudTrailError(JsonRESTError):
    code = 400


def invalid_lookup_attributes(message: str) -> CloudTrailError:
    return CloudTrailError("InvalidLookupAttributesException", message)


# --- recording --------------------------------------------------------------------------------


def _events(account_id: str, region: str) -> list[dict[str, Any]]:
    """The recorded events of an account+Region, oldest first (kept on moto's CloudTrail
    backend, so a sandbox reset forgets them with everything else)."""
    from moto.cloudtrail.models import cloudtrail_backends

    backend = cloudtrail_backends[account_id][region]
    if not hasattr(backend, "amidash_events"):
        backend.amidash_events = []
    return backend.amidash_events


def events_of(account_id: str, region: str) -> list[dict[str, Any]]:
    """The recorded events of an account+Region, oldest first (the list itself)."""
    return _events(account_id, region)


def backdate(account_id: str, region: str, since: int, moment: datetime) -> None:
    """Give the events recorded after the first ``since`` of an account+Region the time
    ``moment`` (a replay of changes made earlier, as the estate generator replays its history)."""
    for record in _events(account_id, region)[since:]:
        record["time"] = moment
        record["event"]["eventTime"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def is_mutation(service: str, action: str) -> bool:
    return service == "ec2" and bool(action) and not action.startswith(READ_ONLY_PREFIXES)


def record_call(response: Any, answer: Any) -> dict[str, Any] | None:
    """Record the call moto just answered if it is a successful EC2 mutation; returns the event.

    Never fails the call: a call the recorder cannot read is simply not recorded.
    """
    try:
        action = response._get_action() or ""
        if not is_mutation(response.service_name, action):
            return None
        status, _headers, body = answer
        if int(status) >= 300:
            return None
        return _record(response, action, body if isinstance(body, str) else "")
    except Exception:  # the trail must never change the answer of a call
        return None


def _record(response: Any, action: str, body: str) -> dict[str, Any]:
    account_id, region = response.current_account, response.region
    access_key = response.get_access_key()
    identity = principal(access_key, account_id)
    parameters = request_parameters(response.querystring)
    now = clock.now()
    event = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": EVENT_SOURCE,
        "eventName": action,
        "awsRegion": region,
        "sourceIPAddress": _source_address(response),
        "userAgent": response.headers.get("User-Agent", ""),
        "requestParameters": parameters,
        "responseElements": _response_elements(body),
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account_id,
        "eventCategory": "Management",
    }
    record = {
        "time": now,
        "event": event,
        "username": username_of(identity),
        "access_key_id": access_key,
        "resources": _resources(parameters, event["responseElements"]),
    }
    _events(account_id, region).append(record)
    return record


def _source_address(response: Any) -> str:
    forwarded = (response.headers.get("X-Forwarded-For") or "").split(",")[0].strip()
    if forwarded:
        return forwarded
    request = getattr(response, "request", None)
    return getattr(request, "remote_addr", None) or "127.0.0.1"


def _response_elements(body: str) -> dict[str, Any] | None:
    found = _NEW_IMAGE.search(body or "")
    return {"imageId": found.group(1)} if found else None


def request_parameters(querystring: dict[str, Any]) -> dict[str, Any]:
    """The request's parameters the way CloudTrail shows EC2's: lower camel case, lists of
    ``{"item": ...}`` folded into lists (``ImageId.1`` and ``ImageId.2`` become ``imageId``)."""
    found: dict[str, Any] = {}
    for key, values in (querystring or {}).items():
        if key in ("Action", "Version"):
            continue
        value = values[0] if isinstance(values, list) and len(values) == 1 else values
        match = _INDEXED.match(key)
        name = _lower_camel(match.group("name") if match else key)
        if match:
            found.setdefault(name, []).append(value)
        else:
            found[name] = value
    return {
        name: value[0] if isinstance(value, list) and len(value) == 1 else value
        for name, value in found.items()
    }


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _resources(parameters: dict[str, Any], elements: dict[str, Any] | None) -> list[dict]:
    """Resources of the event: every EC2 id among the parameters and the new image, if any."""
    ids: list[str] = []
    values = [*parameters.values(), *(elements or {}).values()]
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and _RESOURCE_ID.match(item) and item not in ids:
                ids.append(item)
    return [
        {"ResourceType": RESOURCE_TYPES[item.split("-", 1)[0]], "ResourceName": item}
        for item in ids
    ]


# --- who called -------------------------------------------------------------------------------


def principal(access_key_id: str, account_id: str) -> dict[str, Any]:
    """CloudTrail's ``userIdentity`` of the credentials behind an access key."""
    role = _assumed_role(access_key_id, account_id)
    if role is not None:
        return _assumed_role_identity(role, access_key_id)
    user = _iam_user(access_key_id)
    if user is not None:
        return {
            "type": "IAMUser",
            "principalId": user.id,
            "arn": user.arn,
            "accountId": user.account_id,
            "accessKeyId": access_key_id,
            "userName": user.name,
        }
    return {
        "type": "Root",
        "principalId": account_id,
        "arn": f"arn:aws:iam::{account_id}:root",
        "accountId": account_id,
        "accessKeyId": access_key_id,
    }


def username_of(identity: dict[str, Any]) -> str:
    """LookupEvents' Username: the user's name, the role session's name, or ``root``."""
    if identity["type"] == "AssumedRole":
        return identity["arn"].rsplit("/", 1)[-1]
    return identity.get("userName") or "root"


def _assumed_role(access_key_id: str, account_id: str) -> Any | None:
    from moto.sts.models import sts_backends

    if not access_key_id.startswith("ASIA"):
        return None
    accounts = [account_id] if region_exists(sts_backends, account_id) else []
    accounts += [other for other in list(sts_backends.keys()) if other != account_id]
    for account in accounts:
        for backend in list(sts_backends[account].values()):
            role = backend.get_assumed_role_from_access_key(access_key_id)
            if role is not None:
                return role
    return None


def _assumed_role_identity(role: Any, access_key_id: str) -> dict[str, Any]:
    if not hasattr(role, "amidash_principal_id"):  # moto invents a new id per read otherwise
        role.amidash_principal_id = role.user_id
    role_name = role.role_arn.split("/")[-1]
    created = getattr(role, "amidash_created_at", None) or clock.now()
    context: dict[str, Any] = {
        "sessionIssuer": {
            "type": "Role",
            "principalId": role.amidash_principal_id.split(":", 1)[0],
            "arn": role.role_arn,
            "accountId": role.account_id,
            "userName": role_name,
        },
        "attributes": {
            "creationDate": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "mfaAuthenticated": "false",
        },
    }
    source_identity = getattr(role, "amidash_source_identity", None)
    if source_identity:
        context["sourceIdentity"] = source_identity
    return {
        "type": "AssumedRole",
        "principalId": role.amidash_principal_id,
        "arn": role.arn,
        "accountId": role.account_id,
        "accessKeyId": access_key_id,
        "sessionContext": context,
    }


def _iam_user(access_key_id: str) -> Any | None:
    from moto.iam.models import iam_backends

    for _account, per_partition in list(iam_backends.items()):
        if not region_exists(per_partition, "aws"):
            continue
        backend = per_partition["aws"]
        key = backend.access_keys.get(access_key_id)
        if key is not None and key.user_name:
            return backend.users.get(key.user_name)
    return None


def remember_session(role: Any, source_identity: str | None) -> None:
    """Called by the STS extension for each new session: when it began, its SourceIdentity."""
    role.amidash_created_at = clock.now()
    role.amidash_source_identity = source_identity or None


# --- LookupEvents -----------------------------------------------------------------------------


def _moment(value: Any, name: str) -> datetime | None:
    """A request timestamp: botocore sends epoch seconds over JSON; ISO text is read too."""
    if value is None:
        return None
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        text = str(value).strip()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return datetime.fromtimestamp(float(text), UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise CloudTrailError(
            "InvalidTimeRangeException", f"The {name} '{value}' is not a valid timestamp."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _attribute(attributes: Any) -> tuple[str, str] | None:
    if not attributes:
        return None
    if not isinstance(attributes, list) or len(attributes) != 1:
        raise invalid_lookup_attributes(
            "You can specify only one lookup attribute per LookupEvents request."
        )
    attribute = attributes[0] if isinstance(attributes[0], dict) else {}
    key, value = attribute.get("AttributeKey"), attribute.get("AttributeValue")
    if key not in LOOKUP_KEYS:
        raise invalid_lookup_attributes(
            f"The lookup attribute key '{key}' is not valid; use one of {', '.join(LOOKUP_KEYS)}."
        )
    if not isinstance(value, str) or not value:
        raise invalid_lookup_attributes("The lookup attribute value must not be empty.")
    return key, value


def _matches(record: dict[str, Any], attribute: tuple[str, str] | None) -> bool:
    if attribute is None:
        return True
    key, value = attribute
    event = record["event"]
    if key == "EventId":
        return event["eventID"] == value
    if key == "EventName":
        return event["eventName"] == value
    if key == "ReadOnly":
        return str(event["readOnly"]).lower() == value.lower()
    if key == "Username":
        return record["username"] == value
    if key == "EventSource":
        return event["eventSource"] == value
    if key == "AccessKeyId":
        return record["access_key_id"] == value
    field = "ResourceType" if key == "ResourceType" else "ResourceName"
    return any(resource[field] == value for resource in record["resources"])


def _token_key(parameters: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(parameters, sort_keys=True, default=str).encode()).hexdigest()


def _encode_token(offset: int, key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "k": key[:16]}).encode()).decode()


def _decode_token(token: str, key: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(data["o"])
        valid = data["k"] == key[:16] and offset > 0
    except (ValueError, TypeError, KeyError):
        valid = False
    if not valid:
        raise CloudTrailError(
            "InvalidNextTokenException",
            "A token that is not valid, or a token that was previously used in a request with "
            "different parameters, was specified.",
        )
    return offset


def lookup_events(
    account_id: str,
    region: str,
    attributes: Any = None,
    start: Any = None,
    end: Any = None,
    max_results: Any = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    """LookupEvents of an account+Region as the CloudTrail API reference describes it."""
    attribute = _attribute(attributes)
    start_time, end_time = _moment(start, "StartTime"), _moment(end, "EndTime")
    if start_time and end_time and start_time > end_time:
        raise CloudTrailError(
            "InvalidTimeRangeException", "The start time must not be after the end time."
        )
    if max_results is None:
        limit = MAX_RESULTS
    else:
        try:
            limit = int(max_results)
        except (TypeError, ValueError):
            limit = 0
        if not 1 <= limit <= MAX_RESULTS:
            raise CloudTrailError(
                "InvalidMaxResultsException", "MaxResults must be a number from 1 to 50."
            )
    key = _token_key(
        {"attribute": attribute, "start": start, "end": end, "max": limit, "acct": account_id}
    )
    offset = _decode_token(next_token, key) if next_token else 0
    oldest = clock.now() - RETENTION
    found = [
        record
        for record in reversed(_events(account_id, region))
        if record["time"] >= oldest
        and (start_time is None or record["time"] >= start_time)
        and (end_time is None or record["time"] <= end_time)
        and _matches(record, attribute)
    ]
    page = found[offset : offset + limit]
    answer: dict[str, Any] = {"Events": [_described(record) for record in page]}
    if offset + limit < len(found):
        answer["NextToken"] = _encode_token(offset + limit, key)
    return answer


def _described(record: dict[str, Any]) -> dict[str, Any]:
    event = record["event"]
    return {
        "EventId": event["eventID"],
        "EventName": event["eventName"],
        "ReadOnly": str(event["readOnly"]).lower(),
        "AccessKeyId": record["access_key_id"],
        "EventTime": record["time"].timestamp(),
        "EventSource": event["eventSource"],
        "Username": record["username"],
        "Resources": record["resources"],
        "CloudTrailEvent": json.dumps(event),
    }


def _lookup_events_response(self: Any) -> str:
    answer = lookup_events(
        self.current_account,
        self.region,
        attributes=self._get_param("LookupAttributes"),
        start=self._get_param("StartTime"),
        end=self._get_param("EndTime"),
        max_results=self._get_param("MaxResults"),
        next_token=self._get_param("NextToken"),
    )
    return json.dumps(answer)


def install() -> None:
    from moto.cloudtrail.responses import CloudTrailResponse

    CloudTrailResponse.lookup_events = _lookup_events_response
