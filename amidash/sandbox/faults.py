"""Fault injection for the sandbox: throttling, Region outages, latency, denied accounts and
malformed answers, switchable at run time.

One wrapper around moto's ``BaseResponse.call_action`` (see `install_fault_hook`) sees every call
before moto dispatches it, in-process and in the server alike. It records the call in the call log
(`amidash.sandbox.calls`) and then applies the active faults that match the call's service,
action, account and Region. Each fault that affects only a share of calls draws from its own
seeded random generator, so a share of 0.5 with a seed answers the same sequence of calls the same
way every run. A call moto answered is then offered to the CloudTrail recorder
(`amidash.sandbox.extensions.cloudtrail`), which keeps successful EC2 mutations as management
events; a call a fault answered never reached moto and is not recorded.

Answers follow what AWS sends so that botocore treats them as it treats the real thing:

- ``throttle``: EC2 ``RequestLimitExceeded`` (HTTP 503), query services such as Auto Scaling and
  STS ``Throttling`` (HTTP 400), JSON services ``ThrottlingException`` (HTTP 400). botocore's
  retry handler retries all three as throttling.
- ``outage``: every call of the Region fails, either as ``ServiceUnavailable`` (HTTP 503) or, with
  ``mode="connection"``, as a dropped connection (botocore raises a connection error).
- ``latency``: the call is answered normally after ``seconds``.
- ``deny``: STS AssumeRole into the account answers ``AccessDenied`` (``scope`` "assume_role" or
  "all") and the account's own calls answer EC2 ``UnauthorizedOperation`` / ``AccessDenied``
  (``scope`` "calls" or "all"), HTTP 403; ``service``, ``action`` and ``region`` narrow the
  denied calls (a role without ``cloudtrail:LookupEvents``).
- ``unsupported``: the answer of an endpoint that lacks the call (EC2 ``InvalidAction``, HTTP
  400), as a partition or an emulator without DescribeImageReferences gives it.
- ``malformed``: HTTP 200 with a truncated body; for XML services (EC2, Auto Scaling, STS, IAM)
  botocore raises ``ResponseParserError``. For JSON services (Recycle Bin, Organizations) it
  reads the body as ``{"message": <body>}``; amidash's AWS access point refuses that answer
  with the same error (``inventory.services.aws.strict_json``), a bare boto3 client does not.
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any

from amidash.sandbox import calls as call_log
from amidash.sandbox.extensions import cloudtrail as trail

FAULT_KINDS = ("throttle", "outage", "latency", "deny", "unsupported", "malformed")
OUTAGE_MODES = ("unavailable", "connection")
DENY_SCOPES = ("all", "assume_role", "calls")
# Internal moto endpoints and services the sandbox does not simulate faults for.
UNHOOKED_SERVICES = frozenset({"moto_api"})
_ROLE_ACCOUNT = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):")


class FaultError(ValueError):
    """A fault description that cannot be applied (unknown kind, bad share, ...)."""


class SimulatedConnectionDrop(ConnectionError):
    """Raised inside the server to make its WSGI layer drop the client's connection."""


@dataclass
class Fault:
    """One active fault and the calls it matches (``None`` matches anything)."""

    kind: str
    share: float = 1.0
    service: str | None = None
    action: str | None = None
    region: str | None = None
    account_id: str | None = None
    seconds: float = 0.0
    mode: str = "unavailable"
    scope: str = "all"
    seed: int | None = None
    id: int = 0
    hits: int = 0
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise FaultError(
                f"unknown fault {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}"
            )
        if not isinstance(self.share, int | float) or not 0 <= self.share <= 1:
            raise FaultError(f"share must be a number from 0 to 1, not {self.share!r}")
        if not isinstance(self.seconds, int | float) or not 0 <= self.seconds <= 60:
            raise FaultError(f"seconds must be a number from 0 to 60, not {self.seconds!r}")
        if self.mode not in OUTAGE_MODES:
            raise FaultError(f"mode must be one of {', '.join(OUTAGE_MODES)}, not {self.mode!r}")
        if self.scope not in DENY_SCOPES:
            raise FaultError(f"scope must be one of {', '.join(DENY_SCOPES)}, not {self.scope!r}")
        if self.kind == "outage" and not self.region:
            raise FaultError("an outage needs a region")
        if self.kind == "deny" and not self.account_id:
            raise FaultError("deny needs an account_id")
        if self.kind == "latency" and not self.seconds:
            raise FaultError("latency needs seconds greater than 0")
        for name in ("service", "action", "region", "account_id"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise FaultError(f"{name} must be a string, not {value!r}")

    def matches(self, call: dict[str, Any]) -> bool:
        return (
            (self.service is None or self.service == call["service"])
            and (self.action is None or self.action == call["action"])
            and (self.region is None or self.region == call["region"])
            and (self.account_id is None or self.account_id == call["account_id"])
        )

    def strikes(self) -> bool:
        """Whether this matching call is hit: always at share 1, else a seeded draw."""
        if self.share >= 1:
            return True
        return self._random.random() < self.share

    def describe(self) -> dict[str, Any]:
        """The fault as JSON-ready data (what the control endpoint answers)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


# Denial and outages decide before latency; a slow answer can still be throttled or malformed.
_PRECEDENCE = {
    "deny": 0,
    "outage": 1,
    "latency": 2,
    "throttle": 3,
    "unsupported": 4,
    "malformed": 5,
}
_lock = threading.Lock()
_faults: list[Fault] = []
_next_id = 1
_default_seed = 42
_suspended = threading.local()


def set_default_seed(seed: int) -> None:
    """The seed of faults that do not name their own (the server's ``--seed``)."""
    global _default_seed
    _default_seed = seed


def add_fault(kind: str, **options: Any) -> dict[str, Any]:
    """Switch a fault on and return its description (with its ``id``)."""
    global _next_id
    allowed = {"share", "service", "action", "region", "account_id", "seconds", "mode", "scope"}
    unknown = set(options) - allowed - {"seed"}
    if unknown:
        raise FaultError(f"unknown fault option(s): {', '.join(sorted(unknown))}")
    fault = Fault(kind=kind, **options)
    with _lock:
        fault.id = _next_id
        _next_id += 1
        seed = fault.seed if fault.seed is not None else _default_seed
        fault._random = random.Random(f"{seed}:{fault.id}")
        _faults.append(fault)
    return fault.describe()


def remove_fault(fault_id: int) -> bool:
    with _lock:
        before = len(_faults)
        _faults[:] = [fault for fault in _faults if fault.id != fault_id]
        return len(_faults) != before


def clear_faults() -> None:
    """Switch every fault off; numbering restarts so seeded runs repeat exactly."""
    global _next_id
    with _lock:
        _faults.clear()
        _next_id = 1


def active_faults() -> list[dict[str, Any]]:
    with _lock:
        return [fault.describe() for fault in _faults]


@contextmanager
def suspended() -> Iterator[None]:
    """Neither record nor fault calls made by this thread (the estate generator's own calls)."""
    previous = getattr(_suspended, "active", False)
    _suspended.active = True
    try:
        yield
    finally:
        _suspended.active = previous


def install_fault_hook() -> None:
    """Wrap moto's ``BaseResponse.call_action`` once per process (idempotent)."""
    from moto.core.responses import BaseResponse

    if getattr(BaseResponse.call_action, "_amidash_fault_hook", False):
        return
    original = BaseResponse.call_action

    def call_action(self: BaseResponse) -> Any:
        if self.service_name in UNHOOKED_SERVICES or getattr(_suspended, "active", False):
            return original(self)
        answer = intercept(self)
        if answer is not None:
            return answer
        answer = original(self)
        trail.record_call(self, answer)  # a successful EC2 mutation becomes a CloudTrail event
        return answer

    call_action._amidash_fault_hook = True  # type: ignore[attr-defined]
    BaseResponse.call_action = call_action  # type: ignore[method-assign]


def intercept(response: Any) -> tuple[int, dict[str, str], str] | None:
    """Record the call and return the faulted answer, or None to let moto answer."""
    call = call_log.record(
        service=response.service_name,
        action=response._get_action() or "",
        account_id=response.current_account,
        region=response.region,
        params=call_log.key_parameters(response.querystring, getattr(response, "body", None)),
    )
    for fault in _matching_faults(call):
        try:
            answer = _apply(fault, call, response)
        except Exception:  # a dropped connection still counts as the fault's answer
            _count_hit(fault, call)
            raise
        if answer is not None:
            _count_hit(fault, call)
            return answer
    return None


def _count_hit(fault: Fault, call: dict[str, Any]) -> None:
    call["fault"] = fault.kind
    with _lock:
        fault.hits += 1


def _matching_faults(call: dict[str, Any]) -> list[Fault]:
    with _lock:
        faults = list(_faults)
    return sorted((f for f in faults if _applies(f, call)), key=lambda f: _PRECEDENCE[f.kind])


def _applies(fault: Fault, call: dict[str, Any]) -> bool:
    if fault.kind != "deny":
        return fault.matches(call)
    target = _assume_role_target(call)
    if target is not None and fault.scope in ("all", "assume_role"):
        return (
            target == fault.account_id
            and fault.service in (None, "sts")
            and fault.action in (None, "AssumeRole")
        )
    return fault.scope in ("all", "calls") and fault.matches(call)


def _assume_role_target(call: dict[str, Any]) -> str | None:
    if call["service"] != "sts" or call["action"] != "AssumeRole":
        return None
    match = _ROLE_ACCOUNT.match(str(call["params"].get("RoleArn", "")))
    return match.group(1) if match else ""


def _apply(fault: Fault, call: dict[str, Any], response: Any) -> Any:
    if fault.kind == "latency":
        if fault.strikes():
            time.sleep(fault.seconds)
            with _lock:
                fault.hits += 1
        return None
    if not fault.strikes():
        return None
    protocol = _protocol(response)
    if fault.kind == "throttle":
        return _throttle(protocol)
    if fault.kind == "outage":
        if fault.mode == "connection":
            _drop_connection(response)
        return _error(protocol, 503, "ServiceUnavailable", "Service is unavailable.", server=True)
    if fault.kind == "deny":
        return _deny(protocol, call)
    if fault.kind == "unsupported":
        message = f"The action {call['action']} is not valid for this web service."
        return _error(protocol, 400, "InvalidAction", message)
    return _malformed(protocol, call["action"])


def _throttle(protocol: str) -> tuple[int, dict[str, str], str]:
    if protocol == "ec2":
        return _error(protocol, 503, "RequestLimitExceeded", "Request limit exceeded.")
    if protocol == "query":
        return _error(protocol, 400, "Throttling", "Rate exceeded")
    return _error(protocol, 400, "ThrottlingException", "Rate exceeded")


def _deny(protocol: str, call: dict[str, Any]) -> tuple[int, dict[str, str], str]:
    if call["service"] == "sts" and call["action"] == "AssumeRole":
        role = call["params"].get("RoleArn", "")
        message = f"User is not authorized to perform: sts:AssumeRole on resource: {role}"
        return _error(protocol, 403, "AccessDenied", message)
    if protocol == "ec2":
        return _error(protocol, 403, "UnauthorizedOperation", _not_authorized(call))
    if protocol == "query":
        return _error(protocol, 403, "AccessDenied", _not_authorized(call))
    return _error(protocol, 403, "AccessDeniedException", _not_authorized(call))


def _not_authorized(call: dict[str, Any]) -> str:
    return (
        f"You are not authorized to perform this operation: "
        f"{call['service']}:{call['action']} in account {call['account_id']}."
    )


def _malformed(protocol: str, action: str) -> tuple[int, dict[str, str], str]:
    headers = {"x-amzn-requestid": str(uuid.uuid4())}
    if protocol in ("ec2", "query", "rest-xml"):
        headers["Content-Type"] = "text/xml"
        return 200, headers, f"<{action}Response><unterminated"
    headers["Content-Type"] = "application/x-amz-json-1.1"
    return 200, headers, '{"truncated": '


def _error(
    protocol: str, status: int, code: str, message: str, server: bool = False
) -> tuple[int, dict[str, str], str]:
    """An error answer in the wire format of the service's protocol (what botocore parses)."""
    request_id = str(uuid.uuid4())
    headers = {"x-amzn-requestid": request_id}
    if protocol == "ec2":
        headers["Content-Type"] = "text/xml"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{code}</Code><Message>{_xml(message)}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
    elif protocol in ("query", "rest-xml"):
        headers["Content-Type"] = "text/xml"
        kind = "Receiver" if server else "Sender"
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code>"
            f"<Message>{_xml(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    else:
        import json

        headers["Content-Type"] = "application/x-amz-json-1.1"
        headers["x-amzn-ErrorType"] = code
        body = json.dumps({"__type": code, "message": message})
    return status, headers, body


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _protocol(response: Any) -> str:
    from moto.core.utils import get_service_model

    try:
        protocol = response.determine_response_protocol(
            get_service_model(response.boto3_service_name)
        )
    except Exception:  # a service without a botocore model: answer in the common query form
        return "query"
    return "query" if protocol == "query-json" else protocol


def _drop_connection(response: Any) -> None:
    """Fail the call at the connection level: botocore sees no HTTP answer at all."""
    if getattr(response, "is_werkzeug_request", False):
        raise SimulatedConnectionDrop("simulated Region outage")
    from botocore.exceptions import EndpointConnectionError

    raise EndpointConnectionError(endpoint_url=getattr(response, "uri", "") or "")
