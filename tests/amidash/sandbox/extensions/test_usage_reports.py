"""Conformance: AMI usage reports (EC2 API reference: CreateImageUsageReport,
DescribeImageUsageReports, DescribeImageUsageReportEntries, ImageUsageReport,
ImageUsageReportEntry). A report counts, per other account and resource type, the instances and
launch templates that reference the owner's image."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import ClientError

CONSUMER = "111122223333"
OTHER_CONSUMER = "444455556666"
BOTH = [{"ResourceType": "ec2:Instance"}, {"ResourceType": "ec2:LaunchTemplate"}]


def shared_image(aws, *consumers: str) -> str:
    ec2 = aws.client("ec2")
    image_id = ec2.register_image(
        Name="golden-2025.01",
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
    )["ImageId"]
    ec2.modify_image_attribute(
        ImageId=image_id,
        LaunchPermission={"Add": [{"UserId": consumer} for consumer in consumers]},
    )
    return image_id


def launch(aws, account_id: str, image_id: str, count: int = 1) -> list[str]:
    ec2 = aws.client("ec2", account_id=account_id)
    answer = ec2.run_instances(ImageId=image_id, MinCount=count, MaxCount=count)
    return [instance["InstanceId"] for instance in answer["Instances"]]


def available_report(aws, image_id: str, **params) -> str:
    ec2 = aws.client("ec2")
    report_id = ec2.create_image_usage_report(
        ImageId=image_id, ResourceTypes=params.pop("ResourceTypes", BOTH), **params
    )["ReportId"]
    aws.advance_clock(60)
    return report_id


def entries(aws, report_id: str, **params) -> set[tuple[str, str, int]]:
    answer = aws.client("ec2").describe_image_usage_report_entries(ReportIds=[report_id], **params)
    return {
        (e["AccountId"], e["ResourceType"], e["UsageCount"])
        for e in answer["ImageUsageReportEntries"]
    }


def test_it_counts_other_accounts_instances_and_launch_templates(aws):
    """ImageUsageReportEntry: per account and resource type, how many resources reference the
    image; the owner's own use is not in the report."""
    image_id = shared_image(aws, CONSUMER, OTHER_CONSUMER)
    launch(aws, CONSUMER, image_id, count=2)
    launch(aws, OTHER_CONSUMER, image_id)
    aws.client("ec2", account_id=OTHER_CONSUMER).create_launch_template(
        LaunchTemplateName="web", LaunchTemplateData={"ImageId": image_id}
    )
    aws.client("ec2").run_instances(ImageId=image_id, MinCount=1, MaxCount=1)

    report_id = available_report(aws, image_id)

    assert entries(aws, report_id) == {
        (CONSUMER, "ec2:Instance", 2),
        (OTHER_CONSUMER, "ec2:Instance", 1),
        (OTHER_CONSUMER, "ec2:LaunchTemplate", 1),
    }


def test_a_report_is_pending_then_available(aws):
    """ImageUsageReport.state: pending while the report is being created, then available."""
    image_id = shared_image(aws, CONSUMER)
    ec2 = aws.client("ec2")
    report_id = ec2.create_image_usage_report(ImageId=image_id, ResourceTypes=BOTH)["ReportId"]

    first = ec2.describe_image_usage_reports(ReportIds=[report_id])["ImageUsageReports"]
    second = ec2.describe_image_usage_reports(ReportIds=[report_id])["ImageUsageReports"]

    assert [r["State"] for r in first] == ["pending"]
    assert [r["State"] for r in second] == ["available"]
    report = second[0]
    assert report["ImageId"] == image_id
    assert {t["ResourceType"] for t in report["ResourceTypes"]} == {
        "ec2:Instance",
        "ec2:LaunchTemplate",
    }
    assert report["ExpirationTime"] - report["CreationTime"] == timedelta(days=30)


def test_a_pending_report_has_no_entries(aws):
    """DescribeImageUsageReportEntries: a report being created is not available to view."""
    image_id = shared_image(aws, CONSUMER)
    launch(aws, CONSUMER, image_id)
    ec2 = aws.client("ec2")
    report_id = ec2.create_image_usage_report(ImageId=image_id, ResourceTypes=BOTH)["ReportId"]

    assert entries(aws, report_id) == set()


def test_a_report_is_a_snapshot_of_when_it_was_built(aws):
    """A report shows usage when it was created; later launches need a new report."""
    image_id = shared_image(aws, CONSUMER)
    report_id = available_report(aws, image_id)
    aws.client("ec2").describe_image_usage_reports(ReportIds=[report_id])

    launch(aws, CONSUMER, image_id)

    assert entries(aws, report_id) == set()
    assert entries(aws, available_report(aws, image_id)) == {(CONSUMER, "ec2:Instance", 1)}


def test_it_reports_only_the_named_accounts_and_resource_types(aws):
    """CreateImageUsageReport: AccountId.N limits the accounts, ResourceType.N the types."""
    image_id = shared_image(aws, CONSUMER, OTHER_CONSUMER)
    launch(aws, CONSUMER, image_id)
    launch(aws, OTHER_CONSUMER, image_id)
    aws.client("ec2", account_id=CONSUMER).create_launch_template(
        LaunchTemplateName="web", LaunchTemplateData={"ImageId": image_id}
    )

    report_id = available_report(
        aws, image_id, AccountIds=[CONSUMER], ResourceTypes=[{"ResourceType": "ec2:Instance"}]
    )

    assert entries(aws, report_id) == {(CONSUMER, "ec2:Instance", 1)}


def test_it_ignores_terminated_instances(aws):
    """Usage counts resources that reference the image: a terminated instance does not."""
    image_id = shared_image(aws, CONSUMER)
    [instance_id] = launch(aws, CONSUMER, image_id)
    aws.client("ec2", account_id=CONSUMER).terminate_instances(InstanceIds=[instance_id])

    assert entries(aws, available_report(aws, image_id)) == set()


def test_entries_filter_by_account_and_resource_type(aws):
    """DescribeImageUsageReportEntries filters: account-id, resource-type."""
    image_id = shared_image(aws, CONSUMER, OTHER_CONSUMER)
    launch(aws, CONSUMER, image_id)
    launch(aws, OTHER_CONSUMER, image_id)
    report_id = available_report(aws, image_id)

    found = entries(aws, report_id, Filters=[{"Name": "account-id", "Values": [OTHER_CONSUMER]}])

    assert found == {(OTHER_CONSUMER, "ec2:Instance", 1)}


def test_reports_and_entries_are_paginated(aws):
    """DescribeImageUsageReports and DescribeImageUsageReportEntries page with MaxResults and
    NextToken."""
    consumers = [f"10000000000{n}" for n in range(3)]
    image_id = shared_image(aws, *consumers)
    for consumer in consumers:
        launch(aws, consumer, image_id)
    report_ids = {available_report(aws, image_id) for _ in range(3)}
    ec2 = aws.client("ec2")

    report_pages = list(
        ec2.get_paginator("describe_image_usage_reports").paginate(
            ImageIds=[image_id], PaginationConfig={"PageSize": 2}
        )
    )
    entry_pages = list(
        ec2.get_paginator("describe_image_usage_report_entries").paginate(
            ReportIds=sorted(report_ids)[:1], PaginationConfig={"PageSize": 2}
        )
    )

    assert [len(page["ImageUsageReports"]) for page in report_pages] == [2, 1]
    assert {r["ReportId"] for page in report_pages for r in page["ImageUsageReports"]} == (
        report_ids
    )
    assert [len(page["ImageUsageReportEntries"]) for page in entry_pages] == [2, 1]


def test_only_the_owner_reports_on_an_image(aws):
    """CreateImageUsageReport reports on your own image: another account's or a missing one
    is refused."""
    image_id = shared_image(aws, CONSUMER)
    consumer = aws.client("ec2", account_id=CONSUMER)

    with pytest.raises(ClientError) as foreign:
        consumer.create_image_usage_report(ImageId=image_id, ResourceTypes=BOTH)
    with pytest.raises(ClientError) as missing:
        aws.client("ec2").create_image_usage_report(
            ImageId="ami-0123456789abcdef0", ResourceTypes=BOTH
        )

    assert foreign.value.response["Error"]["Code"] == "AuthFailure"
    assert missing.value.response["Error"]["Code"] == "InvalidAMIID.NotFound"


def test_it_refuses_an_unknown_resource_type(aws):
    """CreateImageUsageReport: ResourceType is ec2:Instance or ec2:LaunchTemplate."""
    image_id = shared_image(aws, CONSUMER)

    with pytest.raises(ClientError) as excinfo:
        aws.client("ec2").create_image_usage_report(
            ImageId=image_id, ResourceTypes=[{"ResourceType": "ec2:Volume"}]
        )

    assert excinfo.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_a_report_expires_after_30_days(aws):
    """ImageUsageReport.expirationTime: EC2 deletes the report 30 days after creation."""
    image_id = shared_image(aws, CONSUMER)
    available_report(aws, image_id)

    aws.advance_clock(timedelta(days=30, seconds=1).total_seconds())

    answer = aws.client("ec2").describe_image_usage_reports(ImageIds=[image_id])
    assert answer["ImageUsageReports"] == []
