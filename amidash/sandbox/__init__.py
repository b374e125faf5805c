"""The simulated AWS that every test and the demo run against.

moto, plus the AMI lifecycle APIs it lacks and corrections where it differs from AWS (see
docs/architecture.md, "The sandbox and moto"), fault injection and an estate generator. Used
two ways with the same behaviour:

- in-process: ``with sandbox() as aws:`` (a context manager over moto's ``mock_aws``);
- as a server: ``python manage.py sandbox --port 5055``; clients reach it only through standard
  configuration (``AWS_ENDPOINT_URL`` and fake credentials), exactly as they would reach AWS.
  ``with connect("http://127.0.0.1:5055") as aws:`` gives the same handle for a running server.
"""

from amidash.sandbox.runtime import (
    DEFAULT_ACCOUNT_ID,
    Sandbox,
    SandboxControlError,
    act_in_account,
    connect,
    sandbox,
)

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "Sandbox",
    "SandboxControlError",
    "act_in_account",
    "connect",
    "sandbox",
]
