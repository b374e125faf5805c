"""GetImageFindings: Amazon Inspector's vulnerability findings for an AMI.

moto lacks the call. "Amazon Inspector returns findings only for AMIs that it has scanned"
(EC2 API reference): an image nobody scanned answers an empty list, like a clean one. Findings
are set per image by `set_image_findings` (the estate, and tests through the sandbox handle); a
caller may read them for images it owns, that are shared with it or public. The answer is
paginated (MaxResults 1 to 1000, NextToken). An account without Inspector, or a role without the
permission, is simulated by the fault hook (``unsupported`` / ``deny`` on GetImageFindings).
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult

from amidash.sandbox.extensions.common import (
    aws_timestamp,
    ec2_backend,
    parse_timestamp,
)
from amidash.sandbox.extensions.images import visible_image
from amidash.sandbox.extensions.pagination import PageLimits, read_page_request, take_page

SEVERITIES = ("informational", "low", "medium", "high", "critical")
FINDINGS_PAGE = PageLimits(1, 1000)


def set_image_findings(
    account_id: str, region: str, image_id: str, findings: list[dict[str, Any]]
) -> int:
    """Give an image of the account+Region its Inspector findings; returns how many.

    Each finding needs ``Title`` and ``SeverityLabel``; ``Score``, ``FixAvailable``,
    ``FirstObservedAt``, ``UpdatedAt``, ``Paths`` and ``SnapshotId`` are optional.
    """
    image = ec2_backend(account_id, region).amis.get(image_id)
    if image is None:
        raise ValueError(f"no image {image_id} in {account_id}/{region}")
    image.amidash_findings = [_finding(image, index, f) for index, f in enumerate(findings)]
    return len(image.amidash_findings)


def _finding(image: Any, index: int, raw: dict[str, Any]) -> dict[str, Any]:
    severity = raw.get("SeverityLabel")
    if severity not in SEVERITIES or not raw.get("Title"):
        raise ValueError(f"a finding needs a Title and a SeverityLabel of {', '.join(SEVERITIES)}")
    finding = {
        "Title": str(raw["Title"]),
        "SeverityLabel": severity,
        "Score": float(raw.get("Score", 0.0)),
        "FixAvailable": bool(raw.get("FixAvailable", False)),
        "Paths": list(raw.get("Paths", []))[:10],  # "up to 10 file paths for each finding"
        "SnapshotId": raw.get("SnapshotId") or _root_snapshot(image),
        "Key": f"{index:06d}",
    }
    for name in ("FirstObservedAt", "UpdatedAt"):
        if raw.get(name):
            finding[name] = aws_timestamp(parse_timestamp(raw[name]))
    return finding


def _root_snapshot(image: Any) -> str:
    for mapping in image.block_device_mappings:
        snapshot_id = (mapping.get("Ebs") or {}).get("SnapshotId")
        if snapshot_id:
            return snapshot_id
    return ""


def get_image_findings(self: Any) -> ActionResult:
    request = read_page_request(self.params, "GetImageFindings", FINDINGS_PAGE)
    image = visible_image(self.ec2_backend, self._get_param("ImageId"))
    self.error_on_dryrun()
    findings = getattr(image, "amidash_findings", None) or []
    page, token = take_page(findings, lambda finding: finding["Key"], request)
    answer = [{k: v for k, v in finding.items() if k != "Key"} for finding in page]
    return ActionResult({"ImageFindings": answer, "NextToken": token})


def install() -> None:
    from moto.ec2.responses.amis import AmisResponse

    AmisResponse.get_image_findings = get_image_findings
