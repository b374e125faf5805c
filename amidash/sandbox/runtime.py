"""The sandbox handle: one API for tests and tools whether AWS runs in this process or a server.

- ``with sandbox() as aws:`` runs moto's ``mock_aws`` with the extensions and the fault hook in
  this process; the handle calls the control functions below directly.
- ``with connect(endpoint_url) as aws:`` talks to a running ``manage.py sandbox`` server; the
  handle sends the same operations as JSON to its control endpoint (``/_sandbox/...``).

Both point standard AWS configuration (``AWS_ENDPOINT_URL``, fake credentials, Region) at the
sandbox while the block runs and restore the environment afterwards, so application code reaches
it exactly as it reaches AWS.
"""

from __future__ import annotations

import functools
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from amidash.boto import new_session
from amidash.sandbox import calls as call_log
from amidash.sandbox import clock, faults

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
# moto reads this request header to pick the account a call acts in (when MOTO_ACCOUNT_ID is
# unset); assumed-role credentials of a role in another account are mapped the same way.
ACCOUNT_HEADER = "x-moto-account-id"
ACCESS_KEY_ID = "AKIASANDBOXSANDBOX00"
SECRET_ACCESS_KEY = "sandbox-secret-key"

SANDBOX_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
    "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    "AWS_DEFAULT_REGION": DEFAULT_REGION,
    "AWS_REGION": DEFAULT_REGION,
    # Each Region would otherwise preload about 1,300 public Amazon images (moto's default).
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    # A developer's own AWS files must not leak into the sandbox.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
# Removed while the sandbox runs: MOTO_ACCOUNT_ID would pin every call to one account.
REMOVED_ENVIRONMENT = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "MOTO_ACCOUNT_ID", "AWS_ENDPOINT_URL")


class SandboxControlError(RuntimeError):
    """The sandbox refused a control operation (bad fault, unknown estate, ...)."""


# --- control operations, run in the process that holds the moto backends ---------------------

_estate_summary: dict[str, Any] | None = None


def reset_state() -> None:
    """Fresh state: moto backends, extension state, faults, clock, call log and estate."""
    global _estate_summary
    from moto.core.base_backend import BackendDict
    from moto.core.model_instances import reset_model_data

    BackendDict.reset()
    reset_model_data()
    _reset_extension_state()
    faults.clear_faults()
    clock.reset()
    call_log.clear()
    _estate_summary = None


def _reset_extension_state() -> None:
    """Let the extensions drop state they keep outside moto's backends, if they keep any."""
    from amidash.sandbox import extensions

    for name in ("reset_state", "reset_extension_state", "reset"):
        reset = getattr(extensions, name, None)
        if callable(reset):
            reset()
            return


def load_estate_state(
    name: str = "demo", seed: int = 42, epoch: datetime | None = None
) -> dict[str, Any]:
    """Generate an estate into the backends of this process and remember its summary; times are
    relative to epoch when given (see generate_estate)."""
    global _estate_summary
    from moto.core.base_backend import BackendDict
    from moto.core.model_instances import reset_model_data

    from amidash.sandbox.estate import ESTATES, generate_estate

    if name not in ESTATES:
        raise ValueError(f"unknown estate {name!r}; expected one of {', '.join(ESTATES)}")
    # An estate replaces whatever the backends held; faults and the clock stay as they are.
    BackendDict.reset()
    reset_model_data()
    _reset_extension_state()
    summary = generate_estate(name, seed, epoch)
    call_log.clear()
    _estate_summary = summary
    return summary


def add_image_recipe_state(
    account_id: str, region: str, name: str, parent_image: str, container: bool = False
) -> str:
    """An Image Builder recipe naming an AMI as its parent (see extensions.references)."""
    from amidash.sandbox.extensions.references import add_image_recipe

    return add_image_recipe(account_id, region, name, parent_image, container=container)


def set_image_findings_state(
    account_id: str, region: str, image_id: str, findings: list[dict[str, Any]]
) -> int:
    """An image's Inspector findings (see extensions.findings)."""
    from amidash.sandbox.extensions.findings import set_image_findings

    return set_image_findings(account_id, region, image_id, findings)


def estate_summary() -> dict[str, Any] | None:
    return _estate_summary


def make_outside_changes_state(at: datetime | None = None) -> dict[str, Any]:
    """The demo's changes made outside amidash (amidash.sandbox.outside); ``at`` replays them
    with their first time. Needs the demo (or large) estate: its accounts and people."""
    from amidash.sandbox.outside import make_outside_changes

    if not _estate_summary or not _estate_summary.get("accounts"):
        raise ValueError("outside changes need an estate with accounts (demo or large)")
    return make_outside_changes(at)


def install() -> None:
    """Install the extensions, the fault hook and the tag look-up (idempotent)."""
    from amidash.sandbox.extensions import install_extensions

    install_extensions()
    faults.install_fault_hook()
    install_fast_tag_lookup()
    install_fast_image_lookup()
    install_fast_dispatch()


def install_fast_dispatch() -> None:
    """Answer each call without moto's per-call introspection.

    For every call moto lists the methods of the responding class (``inspect.getmembers``) and,
    in the server, the folders of its own package to find the service: about two thirds of a
    DescribeImageAttribute's time in the server. Neither changes while the process runs, so
    each is worked out once. Same answers; the demo's first sync makes thousands of such calls.
    """
    from moto import backends
    from moto.core import responses

    if getattr(responses.method_names_from_class, "_amidash_fast", False):
        return
    method_names = functools.lru_cache(maxsize=None)(responses.method_names_from_class)
    modules = tuple(backends.list_of_moto_modules())
    method_names._amidash_fast = True  # type: ignore[attr-defined]
    responses.method_names_from_class = method_names  # type: ignore[assignment]
    backends.list_of_moto_modules = lambda: modules  # type: ignore[assignment]


def install_fast_image_lookup() -> None:
    """Find one image by id directly instead of scanning every image of the Region.

    moto scans all images to find the one an instance is launched from; with the large estate
    each RunInstances then costs thousands of comparisons. One id: same answer, found directly.
    """
    from moto.ec2.models.amis import AmiBackend

    original = AmiBackend.describe_images
    if getattr(original, "_amidash_fast", False):
        return

    def describe_images(
        self: Any,
        ami_ids: list[str] | None = None,
        filters: dict[str, Any] | None = None,
        exec_users: list[str] | None = None,
        owners: list[str] | None = None,
    ) -> Any:
        wanted = ami_ids[0] if ami_ids and len(ami_ids) == 1 else None
        if not ami_ids and filters and list(filters) == ["image-id"] and not exec_users:
            value = filters["image-id"]  # how moto's Instance looks up its image
            wanted = value if isinstance(value, str) and not owners else None
        if wanted is not None and wanted in self.amis:
            return [self.amis[wanted]]
        return original(self, ami_ids, filters, exec_users, owners)

    describe_images._amidash_fast = True  # type: ignore[attr-defined]
    AmiBackend.describe_images = describe_images  # type: ignore[method-assign]


def install_fast_tag_lookup() -> None:
    """Look up a resource's EC2 tags by its id instead of scanning every tag of the Region.

    moto answers each resource's tags by filtering the whole tag store, so listing N tagged
    images costs N x (all tags): minutes for the large estate. Same answer, found directly.
    """
    from moto.ec2.models.core import TaggedEC2Resource
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

    if getattr(TaggedEC2Resource.get_tags, "_amidash_fast", False):
        return

    def get_tags(self: Any) -> list[dict[str, str]]:
        resource_id = getattr(self, "id", None)
        if not resource_id:
            return []
        tags = self.ec2_backend.tags.get(resource_id) or {}
        resource_type = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
        return [
            {"resource_id": resource_id, "key": key, "value": value, "resource_type": resource_type}
            for key, value in tags.items()
        ]

    get_tags._amidash_fast = True  # type: ignore[attr-defined]
    TaggedEC2Resource.get_tags = get_tags  # type: ignore[method-assign]


# --- the handle -------------------------------------------------------------------------------


class Sandbox:
    """A handle on a running sandbox: boto3 clients for it and its controls, either mode."""

    def __init__(self, mode: str = "inprocess", endpoint_url: str | None = None) -> None:
        if mode not in ("inprocess", "server"):
            raise ValueError(f"unknown sandbox mode {mode!r}")
        if mode == "server" and not endpoint_url:
            raise ValueError("a server sandbox needs its endpoint_url")
        self.mode = mode
        self.endpoint_url = endpoint_url if mode == "server" else None

    def __repr__(self) -> str:
        return f"Sandbox(mode={self.mode!r}, endpoint_url={self.endpoint_url!r})"

    def client(
        self,
        service: str,
        region: str = DEFAULT_REGION,
        account_id: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """A boto3 client for the sandbox; with account_id it acts in that account."""
        session = kwargs.pop("session", None) or new_session(
            aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY
        )
        if self.endpoint_url:
            kwargs.setdefault("endpoint_url", self.endpoint_url)
        client = session.client(service, region_name=region, **kwargs)
        if account_id is not None:
            act_in_account(client, account_id)
        return client

    def advance_clock(self, seconds: float) -> datetime:
        """Move the sandbox's clock forward; returns the new sandbox time."""
        if self.mode == "inprocess":
            return clock.advance(seconds)
        answer = self._control("POST", "clock", {"advance": seconds})
        return datetime.fromisoformat(answer["now"])

    def now(self) -> datetime:
        if self.mode == "inprocess":
            return clock.now()
        return datetime.fromisoformat(self._control("GET", "clock")["now"])

    def set_fault(self, kind: str, **options: Any) -> dict[str, Any]:
        """Switch a fault on (see amidash.sandbox.faults); returns it with its id."""
        if self.mode == "inprocess":
            try:
                return faults.add_fault(kind, **options)
            except faults.FaultError as error:
                raise SandboxControlError(str(error)) from error
        return self._control("POST", "faults", {"kind": kind, **options})

    def clear_faults(self) -> None:
        if self.mode == "inprocess":
            faults.clear_faults()
        else:
            self._control("DELETE", "faults")

    def faults(self) -> list[dict[str, Any]]:
        if self.mode == "inprocess":
            return faults.active_faults()
        return self._control("GET", "faults")["faults"]

    def load_estate(
        self, name: str = "demo", seed: int = 42, epoch: datetime | None = None
    ) -> dict[str, Any]:
        """Generate a named estate (empty, demo, large) from a seed; returns its summary.

        An epoch fixes the estate's times (in-process only; a server takes it on its command
        line)."""
        if self.mode == "inprocess":
            try:
                return load_estate_state(name, seed, epoch)
            except ValueError as error:
                raise SandboxControlError(str(error)) from error
        return self._control("POST", "estate", {"name": name, "seed": seed})

    def make_outside_changes(self) -> dict[str, Any]:
        """Have the estate's engineers change a few images by hand, directly in AWS (see
        amidash.sandbox.outside); returns when and what."""
        if self.mode == "inprocess":
            try:
                return make_outside_changes_state()
            except ValueError as error:
                raise SandboxControlError(str(error)) from error
        return self._control("POST", "outside-changes", {})

    def add_image_recipe(
        self,
        name: str,
        parent_image: str,
        container: bool = False,
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
    ) -> str:
        """Add an Image Builder image (or container) recipe whose parent is an AMI; its ARN."""
        options = {"account_id": account_id, "region": region, "name": name}
        options |= {"parent_image": parent_image, "container": container}
        if self.mode == "inprocess":
            return add_image_recipe_state(**options)
        return self._control("POST", "image-recipes", options)["arn"]

    def set_image_findings(
        self,
        image_id: str,
        findings: list[dict[str, Any]],
        account_id: str = DEFAULT_ACCOUNT_ID,
        region: str = DEFAULT_REGION,
    ) -> int:
        """Give an image Amazon Inspector findings (Title, SeverityLabel, ...)."""
        options = {"account_id": account_id, "region": region, "image_id": image_id}
        if self.mode == "inprocess":
            try:
                return set_image_findings_state(**options, findings=findings)
            except ValueError as error:
                raise SandboxControlError(str(error)) from error
        return self._control("POST", "image-findings", {**options, "findings": findings})["count"]

    def estate(self) -> dict[str, Any] | None:
        """The summary of the estate loaded last, or None."""
        if self.mode == "inprocess":
            return estate_summary()
        return self._control("GET", "estate")["estate"]

    def calls(
        self,
        action: str | None = None,
        account_id: str | None = None,
        region: str | None = None,
        service: str | None = None,
        include_faulted: bool = True,
    ) -> list[dict[str, Any]]:
        """The API calls the sandbox answered, oldest first (see amidash.sandbox.calls)."""
        criteria = {
            "action": action,
            "account_id": account_id,
            "region": region,
            "service": service,
        }
        if self.mode == "inprocess":
            return call_log.calls(**criteria, include_faulted=include_faulted)
        query = {key: value for key, value in criteria.items() if value is not None}
        if not include_faulted:
            query["include_faulted"] = "false"
        path = "calls" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        return self._control("GET", path)["calls"]

    def clear_calls(self) -> None:
        if self.mode == "inprocess":
            call_log.clear()
        else:
            self._control("DELETE", "calls")

    def reset(self) -> None:
        """Fresh state: no resources, no faults, clock at real time, empty call log."""
        if self.mode == "inprocess":
            reset_state()
        else:
            self._control("POST", "reset")

    def _control(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        url = f"{self.endpoint_url}/_sandbox/{path}"
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=300) as answer:
                return json.loads(answer.read() or b"{}")
        except urllib.error.HTTPError as error:
            try:
                message = json.loads(error.read()).get("error", str(error))
            except ValueError:
                message = str(error)
            raise SandboxControlError(message) from error


def act_in_account(client: Any, account_id: str) -> Any:
    """Make every call of a boto3 client act in the given account of the sandbox."""

    def add_account_header(request: Any, **_: Any) -> None:
        request.headers[ACCOUNT_HEADER] = account_id

    client.meta.events.register_first("before-sign.*.*", add_account_header)
    return client


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set AWS configuration for the block and restore exactly what was there before."""
    names = set(values) | set(REMOVED_ENVIRONMENT)
    saved = {name: os.environ.get(name) for name in names}
    for name in REMOVED_ENVIRONMENT:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def sandbox() -> Iterator[Sandbox]:
    """Run AWS in this process until the block ends; state does not outlive it."""
    from moto import mock_aws

    with _environment(SANDBOX_ENVIRONMENT):
        install()
        with mock_aws():
            reset_state()
            try:
                yield Sandbox()
            finally:
                reset_state()


@contextmanager
def connect(endpoint_url: str) -> Iterator[Sandbox]:
    """Use a running sandbox server for the block: AWS_ENDPOINT_URL and credentials point at it."""
    endpoint_url = endpoint_url.rstrip("/")
    with _environment({**SANDBOX_ENVIRONMENT, "AWS_ENDPOINT_URL": endpoint_url}):
        yield Sandbox(mode="server", endpoint_url=endpoint_url)
