"""The in-process sandbox: moto's mock_aws with the extensions installed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

DEFAULT_ACCOUNT_ID = "123456789012"

SANDBOX_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "AKIASANDBOXSANDBOX00",
    "AWS_SECRET_ACCESS_KEY": "sandbox-secret-key",
    "AWS_SESSION_TOKEN": "",
    "AWS_DEFAULT_REGION": "us-east-1",
    # Each Region would otherwise preload about 1,300 public Amazon images (AWS_FACTS.md).
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    "MOTO_ACCOUNT_ID": DEFAULT_ACCOUNT_ID,
}


@dataclass
class Sandbox:
    """A handle on a running sandbox: boto3 clients for it, whichever way it runs."""

    mode: str = "inprocess"
    endpoint_url: str | None = None

    def client(self, service: str, region: str = "us-east-1", **kwargs: Any) -> Any:
        session = kwargs.pop("session", None) or boto3.session.Session()
        if self.endpoint_url:
            kwargs.setdefault("endpoint_url", self.endpoint_url)
        return session.client(service, region_name=region, **kwargs)


@contextmanager
def sandbox() -> Iterator[Sandbox]:
    """Run AWS in this process until the block ends; state does not outlive it."""
    from moto import mock_aws

    from amidash.sandbox.extensions import install_extensions

    saved = {key: os.environ.get(key) for key in SANDBOX_ENVIRONMENT}
    os.environ.update(SANDBOX_ENVIRONMENT)
    os.environ.pop("AWS_SESSION_TOKEN")
    os.environ.pop("AWS_ENDPOINT_URL", None)
    install_extensions()
    try:
        with mock_aws():
            yield Sandbox()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
