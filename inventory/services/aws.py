"""The one place where boto3 clients are made.

Credentials come from the standard AWS configuration (environment, profiles, instance roles) and,
for accounts with a role ARN, from STS AssumeRole with the account's ExternalId and the acting
user as SourceIdentity. Every client uses botocore's standard retry mode, the configured attempts
and timeouts, and a connection pool sized for the fan-out. ``AWS_ENDPOINT_URL`` and the other
standard variables are honoured by boto3 itself, so a simulated AWS is reached like the real one.
Answers that do not parse fail the call, for JSON services as for XML ones (``strict_json``).

A session acting for a registered account first asks STS GetCallerIdentity which account its
credentials reach (once per session) and refuses to make any other client when that is not the
registered account (invariant 9 in docs/architecture.md): a mistyped role ARN, or a second account
left on the ambient credentials, would otherwise file one account's images under another.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError
from django.conf import settings

from amidash.boto import new_session

if TYPE_CHECKING:
    from inventory.models import Account


class WrongAccount(Exception):
    """The credentials reach another account than the one the session acts for."""


#: Errors that make one account+Region fail (its images stay exactly as they were).
#: ResponseParserError (an unparseable answer) is not a BotoCoreError.
AWS_ERRORS: tuple[type[Exception], ...] = (
    BotoCoreError,
    ClientError,
    ResponseParserError,
    WrongAccount,
)

#: What AWS answers a role that may not make a call.
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}

_SAFE_SOURCE_IDENTITY = re.compile(r"[^\w+=,.@-]")


def client_config() -> Config:
    """Retries, timeouts and pool size shared by every client."""
    return Config(
        retries={"mode": "standard", "total_max_attempts": settings.AWS_RETRY_MAX_ATTEMPTS},
        connect_timeout=settings.AWS_CONNECT_TIMEOUT,
        read_timeout=settings.AWS_READ_TIMEOUT,
        max_pool_connections=settings.AWS_MAX_POOL_CONNECTIONS,
        user_agent_appid="amidash",
    )


def describe_error(error: BaseException) -> str:
    """A short message for a failed call, kept on the Region's result."""
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        code = info.get("Code", "Error")
        operation = getattr(error, "operation_name", "")
        message = info.get("Message", "") or str(error)
        return f"{code} in {operation}: {message}" if operation else f"{code}: {message}"
    if isinstance(error, WrongAccount):
        return str(error)
    return f"{type(error).__name__}: {error}"


def strict_json(operation_model: Any, response_dict: dict[str, Any], **kwargs: Any) -> None:
    """Refuse a successful JSON answer that does not parse (botocore's ``before-parse`` event).

    botocore's XML parsers raise ResponseParserError on a truncated answer, but its JSON parsers
    read one as ``{"message": <body>}``: a Recycle Bin listing cut short would pass for an empty
    one. This makes answers of JSON services (the Recycle Bin among them) fail the same way.
    """
    protocol = operation_model.service_model.resolved_protocol
    body = response_dict.get("body") or b""
    if (
        protocol not in ("json", "rest-json")
        or operation_model.has_streaming_output
        or response_dict.get("status_code", 0) >= 300
        or not body.strip()
    ):
        return
    try:
        json.loads(body)
    except ValueError as error:
        raise ResponseParserError(
            f"Unable to parse the {operation_model.name} answer: {error}"
        ) from None


def source_identity(actor_name: str | None) -> str:
    """STS SourceIdentity: the acting user's name, or 'amidash' for the system (2-64 chars)."""
    value = _SAFE_SOURCE_IDENTITY.sub("-", actor_name or "amidash")[:64]
    return value if len(value) >= 2 else "amidash"


@dataclass
class CallStats:
    """API operations and HTTP attempts made through the clients of one session."""

    calls: int = 0
    attempts: int = 0
    by_action: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def retries(self) -> int:
        return max(self.attempts - self.calls, 0)

    def count_call(self, model: Any = None, **kwargs: Any) -> None:
        with self._lock:
            self.calls += 1
            name = getattr(model, "name", "?")
            self.by_action[name] = self.by_action.get(name, 0) + 1

    def count_attempt(self, **kwargs: Any) -> None:
        with self._lock:
            self.attempts += 1


class AwsSession:
    """Clients acting in one account: the ambient credentials, or an assumed role.

    Clients are cached per (service, Region); ``stats`` counts every operation and attempt.
    """

    def __init__(self, account: Account | None = None, actor_name: str | None = None) -> None:
        self.account = account
        self.actor_name = actor_name
        self.stats = CallStats()
        self._config = client_config()
        self._session = self._make_session()
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._reached: str | None = None

    def _make_session(self) -> boto3.session.Session:
        base = new_session()
        if self.account is None or not self.account.role_arn:
            return base
        credentials = _assume_role(base, self.account, self.actor_name, self._config)
        return new_session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

    def client(self, service: str, region: str) -> Any:
        """A client of ``service`` in ``region``, once the credentials proved their account."""
        key = (service, region)
        with self._lock:
            if service != "sts":
                self._check_account(region)
            if key not in self._clients:
                client = self._session.client(service, region_name=region, config=self._config)
                client.meta.events.register("after-call", self.stats.count_call)
                client.meta.events.register("after-call-error", self.stats.count_call)
                client.meta.events.register("before-send", self.stats.count_attempt)
                client.meta.events.register("before-parse", strict_json)
                self._clients[key] = client
            return self._clients[key]

    def caller_account_id(self, region: str | None = None) -> str:
        """The account these credentials act in (STS GetCallerIdentity, asked once).

        Asked of STS in ``region`` (the Region about to be called), so that one Region's outage
        fails that Region alone, as it would without the check.
        """
        if self._reached is None:
            # Not counted in ``stats``: it is the session's own check, not the caller's work.
            sts = self._session.client(
                "sts", region_name=region or home_region(), config=self._config
            )
            sts.meta.events.register("before-parse", strict_json)
            self._reached = str(sts.get_caller_identity()["Account"])
        return self._reached

    def _check_account(self, region: str) -> None:
        """Refuse to act when the credentials reach another account than the registered one."""
        if self.account is None:
            return
        reached = self.caller_account_id(region)
        if reached != self.account.account_id:
            raise WrongAccount(
                f"credentials reach {reached}, registered as {self.account.account_id}"
            )


def _assume_role(
    base: boto3.session.Session, account: Account, actor_name: str | None, config: Config
) -> dict[str, Any]:
    """Temporary credentials for the account's role (one AssumeRole per session: a session
    serves one account+Region task, far shorter than the role session)."""
    identity = source_identity(actor_name)
    params: dict[str, Any] = {
        "RoleArn": account.role_arn,
        "RoleSessionName": f"amidash-{identity}"[:64],
        "DurationSeconds": settings.AWS_ROLE_SESSION_SECONDS,
        "SourceIdentity": identity,
    }
    if account.external_id:
        params["ExternalId"] = account.external_id
    sts = base.client("sts", region_name=home_region(), config=config)
    return sts.assume_role(**params)["Credentials"]


def home_region() -> str:
    """The Region for global calls (STS, DescribeRegions): AWS_REGION or the profile's, else
    us-east-1."""
    return os.environ.get("AWS_REGION") or boto3.session.Session().region_name or "us-east-1"


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("us-iso"):
        return "aws-iso"
    return "aws"


T = TypeVar("T")


def paced(items: Sequence[T], per_second: float | None) -> Iterator[tuple[int, T]]:
    """Each item with its position, at most ``per_second`` a second (no pause when None): the
    time the caller spends on an item counts toward its interval. The one pacing of the paced
    passes (launch permissions, findings, usage reports)."""
    interval = 1.0 / per_second if per_second else 0.0
    for position, item in enumerate(items):
        started = time.monotonic()
        yield position, item
        if interval:
            time.sleep(max(interval - (time.monotonic() - started), 0.0))
