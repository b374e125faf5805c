"""STS AssumeRole with the rules AWS enforces and moto skips (docs/architecture.md, AWS
behaviours): sessions 15 min to 12 h, role chaining capped at 1 h, ExternalId, SourceIdentity.

For a role that exists in the sandbox's IAM, its trust policy is evaluated (principal account and
an `sts:ExternalId` condition) and DurationSeconds may not exceed its MaxSessionDuration. A role
that was never created stays assumable as in plain moto, so tests can reach any account cheaply.
"""

from __future__ import annotations

import json
from typing import Any

from moto.sts.exceptions import STSClientError, STSValidationError

from amidash.sandbox.extensions.cloudtrail import remember_session
from amidash.sandbox.extensions.common import region_exists

MIN_SESSION_SECONDS = 900
MAX_SESSION_SECONDS = 12 * 3600
CHAINED_SESSION_SECONDS = 3600


def _role(role_arn: str) -> Any | None:
    """The IAM role behind an ARN if the sandbox has it (never creates a backend)."""
    from moto.iam.models import iam_backends

    parts = role_arn.split(":")
    if len(parts) < 6 or parts[2] != "iam":
        return None
    account_id = parts[4]
    if not region_exists(iam_backends, account_id):
        return None
    try:
        return iam_backends[account_id]["global"].get_role_by_arn(role_arn)
    except Exception:  # moto's NotFoundException: a role nobody created
        return None


def _is_chained(access_key_id: str) -> bool:
    """Are these credentials themselves from AssumeRole?"""
    from moto.sts.models import sts_backends

    if not access_key_id.startswith("ASIA"):
        return False
    for per_account in list(sts_backends.values()):
        for backend in list(per_account.values()):
            if backend.get_assumed_role_from_access_key(access_key_id) is not None:
                return True
    return False


def _principal_matches(principal: Any, caller_account: str) -> bool:
    if principal == "*":
        return True
    values = principal.get("AWS", []) if isinstance(principal, dict) else []
    for value in [values] if isinstance(values, str) else values:
        if value in ("*", caller_account) or value.split(":")[4:5] == [caller_account]:
            return True
    return False


def _trusts(role: Any, caller_account: str, external_id: str | None) -> bool:
    """Does the role's trust policy let this account assume it with this ExternalId?"""
    document = role.assume_role_policy_document
    policy = json.loads(document) if isinstance(document, str) else document
    statements = policy.get("Statement", [])
    for statement in [statements] if isinstance(statements, dict) else statements:
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") != "Allow" or not {"sts:AssumeRole", "sts:*", "*"} & set(
            actions
        ):
            continue
        if not _principal_matches(statement.get("Principal", {}), caller_account):
            continue
        wanted = statement.get("Condition", {}).get("StringEquals", {}).get("sts:ExternalId")
        if wanted is None or external_id in ([wanted] if isinstance(wanted, str) else wanted):
            return True
    return False


def check_assume_role(
    role_arn: str, duration: int, external_id: str | None, caller_account: str, access_key: str
) -> None:
    if not MIN_SESSION_SECONDS <= duration <= MAX_SESSION_SECONDS:
        raise STSValidationError(
            f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to "
            f"satisfy constraint: Member must have value between {MIN_SESSION_SECONDS} and "
            f"{MAX_SESSION_SECONDS}"
        )
    if duration > CHAINED_SESSION_SECONDS and _is_chained(access_key):
        raise STSValidationError(
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed "
            "by role chaining."
        )
    role = _role(role_arn)
    if role is None:
        return
    if not _trusts(role, caller_account, external_id):
        raise STSClientError(
            "AccessDenied",
            f"User: arn:aws:iam::{caller_account}:root is not authorized to perform: "
            f"sts:AssumeRole on resource: {role_arn}",
        )
    if duration > int(role.max_session_duration or CHAINED_SESSION_SECONDS):
        raise STSValidationError(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        )


def install() -> None:
    from moto.sts.responses import TokenResponse

    moto_assume_role = TokenResponse.assume_role
    if getattr(moto_assume_role, "_amidash_checked", False):
        return

    def assume_role(self: Any) -> Any:
        check_assume_role(
            role_arn=self._get_param("RoleArn") or "",
            duration=self._get_int_param("DurationSeconds", 3600),
            external_id=self._get_param("ExternalId"),
            caller_account=self.current_account,
            access_key=self.get_access_key(),
        )
        result = moto_assume_role(self)
        source_identity = self._get_param("SourceIdentity")
        if source_identity:
            result.result["SourceIdentity"] = source_identity
        # CloudTrail names the session's SourceIdentity in every event it records.
        remember_session(result.result["Credentials"], source_identity)
        return result

    assume_role._amidash_checked = True  # type: ignore[attr-defined]
    TokenResponse.assume_role = assume_role
