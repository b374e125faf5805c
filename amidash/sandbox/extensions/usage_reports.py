"""AMI usage reports: how accounts other than the owner use an image.

moto lacks CreateImageUsageReport, DescribeImageUsageReports and DescribeImageUsageReportEntries
(docs/architecture.md, AWS behaviours). As the EC2 API reference describes them: only the owner
reports on an image; a report names the resource types (``ec2:Instance``, ``ec2:LaunchTemplate``)
and optionally up to 200 accounts; it is ``pending`` when created and ``available`` once built,
and EC2 deletes it 30 days after creation. Its entries give, per other account and resource
type, how many resources reference the image: instances in any state but terminated, and launch
templates whose latest version names it. Both listings page with MaxResults / NextToken.

A report here becomes available the first time it is described after creation, or once the
sandbox clock is ``BUILD_SECONDS`` past its creation; the entries are counted then, so a report
is a snapshot of that moment, as AWS's is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError
from moto.moto_api._internal import mock_random

from amidash.sandbox import clock
from amidash.sandbox.extensions.common import existing_ec2_backends, invalid_parameter
from amidash.sandbox.extensions.images import owned_image
from amidash.sandbox.extensions.pagination import PageLimits, read_page_request, take_page

INSTANCE = "ec2:Instance"
LAUNCH_TEMPLATE = "ec2:LaunchTemplate"
SUPPORTED = (INSTANCE, LAUNCH_TEMPLATE)
MAX_ACCOUNTS = 200
EXPIRES_AFTER = timedelta(days=30)
BUILD_SECONDS = 5
REPORTS_PAGE = PageLimits(1, 1000)


@dataclass
class UsageReport:
    """One report: what was asked, its state, and once available its entries."""

    report_id: str
    image_id: str
    resource_types: list[str]
    account_ids: list[str]
    created: datetime
    tags: list[dict[str, str]]
    state: str = "pending"
    described: bool = False
    entries: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ImageId": self.image_id,
            "ReportId": self.report_id,
            "ResourceTypes": [{"ResourceType": kind} for kind in self.resource_types],
            "AccountIds": self.account_ids,
            "State": self.state,
            "CreationTime": self.created,
            "ExpirationTime": self.created + EXPIRES_AFTER,
            "Tags": self.tags,
        }


def _reports(backend: Any) -> dict[str, UsageReport]:
    # Kept on the EC2 backend, so moto's reset forgets reports with everything else.
    return backend.__dict__.setdefault("amidash_usage_reports", {})


def live_reports(backend: Any) -> list[UsageReport]:
    """The owner's reports, expired ones deleted and pending ones built when due."""
    now = clock.now()
    store = _reports(backend)
    expired = [key for key, report in store.items() if report.created + EXPIRES_AFTER <= now]
    for report_id in expired:
        del store[report_id]
    for report in store.values():
        due = report.described or now >= report.created + timedelta(seconds=BUILD_SECONDS)
        if report.state == "pending" and due:
            build(backend, report)
    return list(store.values())


def build(owner: Any, report: UsageReport) -> None:
    """Count the other accounts' resources that reference the image (entries with a count)."""
    counts: dict[tuple[str, str], int] = {}
    for account_id, backend in existing_ec2_backends(owner.region_name):
        if account_id == owner.account_id:
            continue
        if report.account_ids and account_id not in report.account_ids:
            continue
        for kind in report.resource_types:
            counts[(account_id, kind)] = _usage_count(backend, kind, report.image_id)
    report.entries = [
        {
            "ResourceType": kind,
            "ReportId": report.report_id,
            "UsageCount": count,
            "AccountId": account_id,
            "ImageId": report.image_id,
            "ReportCreationTime": report.created,
        }
        for (account_id, kind), count in sorted(counts.items())
        if count
    ]
    report.state = "available"


def _usage_count(backend: Any, kind: str, image_id: str) -> int:
    if kind == INSTANCE:
        return sum(
            1
            for reservation in list(backend.reservations.values())
            for instance in reservation.instances
            if instance.image_id == image_id and instance.state != "terminated"
        )
    return sum(
        1
        for template in list(backend.launch_templates.values())
        if template.versions and template.versions[-1].image_id == image_id
    )


def _resource_types(requested: list[dict[str, Any]]) -> list[str]:
    if not requested:
        raise EC2ClientError(
            "MissingParameter", "The request must contain the parameter ResourceType"
        )
    kinds = [entry.get("ResourceType", "") for entry in requested]
    unknown = [kind for kind in kinds if kind not in SUPPORTED]
    if unknown:
        raise invalid_parameter(
            f"The resource type '{unknown[0]}' is not valid. Valid values: {', '.join(SUPPORTED)}."
        )
    return list(dict.fromkeys(kinds))


def _account_ids(requested: list[str]) -> list[str]:
    if len(requested) > MAX_ACCOUNTS:
        raise invalid_parameter(f"A report can name at most {MAX_ACCOUNTS} accounts.")
    malformed = [a for a in requested if not (len(a) == 12 and a.isascii() and a.isdigit())]
    if malformed:
        raise invalid_parameter(f"The account ID '{malformed[0]}' is not valid.")
    return list(dict.fromkeys(requested))


def create_image_usage_report(self: Any) -> ActionResult:
    self.error_on_dryrun()
    image = owned_image(self.ec2_backend, self._get_param("ImageId"))
    tags = [
        {"Key": tag["Key"], "Value": tag.get("Value", "")}
        for spec in self._get_param("TagSpecifications", [])
        for tag in spec.get("Tags", [])
    ]
    report = UsageReport(
        report_id=f"amiur-{mock_random.get_random_hex(17)}",
        image_id=image.id,
        resource_types=_resource_types(self._get_param("ResourceTypes", [])),
        account_ids=_account_ids(self._get_param("AccountIds", [])),
        created=clock.now(),
        tags=tags,
    )
    _reports(self.ec2_backend)[report.report_id] = report
    return ActionResult({"ReportId": report.report_id})


def _filter_values(filters: list[dict[str, Any]], name: str) -> list[str] | None:
    for entry in filters or []:
        if entry.get("Name") == name:
            return list(entry.get("Values", []))
    return None


def _selected(self: Any) -> list[UsageReport]:
    """The reports the request names by ImageIds, ReportIds and the state filter."""
    image_ids = set(self._get_param("ImageIds", []))
    report_ids = set(self._get_param("ReportIds", []))
    states = _filter_values(self._get_param("Filters", []), "state")
    reports = live_reports(self.ec2_backend)
    return [
        report
        for report in reports
        if (not image_ids or report.image_id in image_ids)
        and (not report_ids or report.report_id in report_ids)
        and (states is None or report.state in states)
    ]


def describe_image_usage_reports(self: Any) -> ActionResult:
    self.error_on_dryrun()
    request = read_page_request(self.params, "DescribeImageUsageReports", REPORTS_PAGE)
    reports = _selected(self)
    answer = [report.as_dict() for report in reports]
    for report in reports:
        report.described = True  # built by the next look, as if AWS had finished meanwhile
    page, token = take_page(answer, lambda report: report["ReportId"], request)
    return ActionResult({"ImageUsageReports": page, "NextToken": token})


def describe_image_usage_report_entries(self: Any) -> ActionResult:
    self.error_on_dryrun()
    request = read_page_request(self.params, "DescribeImageUsageReportEntries", REPORTS_PAGE)
    filters = self._get_param("Filters", [])
    accounts = _filter_values(filters, "account-id")
    kinds = _filter_values(filters, "resource-type")
    entries = [
        entry
        for report in _selected(self)
        for entry in report.entries
        if (accounts is None or entry["AccountId"] in accounts)
        and (kinds is None or entry["ResourceType"] in kinds)
    ]
    page, token = take_page(
        entries,
        lambda e: f"{e['ReportId']}|{e['AccountId']}|{e['ResourceType']}",
        request,
    )
    return ActionResult({"ImageUsageReportEntries": page, "NextToken": token})


def install() -> None:
    from moto.ec2.responses.amis import AmisResponse

    for handler in (
        create_image_usage_report,
        describe_image_usage_reports,
        describe_image_usage_report_entries,
    ):
        setattr(AmisResponse, handler.__name__, handler)
