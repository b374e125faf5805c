"""The estate generator: same seed, same estate; the counts it promises are what the API shows."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from amidash.sandbox.estate import LARGE_IMAGE_COUNT, estate_accounts

NAME = re.compile(
    r"^[a-z0-9_]+(-[a-z0-9_]+)*-"
    r"(\d{4}\.\d{1,2}\.\d|\d{8}|v\d+|\d+\.\d+\.\d+)(-\d+)?(-copy)?$"
)


def all_images(ec2) -> list[dict]:
    pages = ec2.get_paginator("describe_images").paginate(
        Owners=["self"], IncludeDeprecated=True, IncludeDisabled=True
    )
    return [image for page in pages for image in page["Images"]]


def estate_images(aws, summary) -> list[dict]:
    """Every image of the estate, as its owners list them, each tagged with its account."""
    images = []
    for account in summary["accounts"]:
        for region in account["regions"]:
            ec2 = aws.client("ec2", region, account_id=account["account_id"])
            images += [{**image, "Account": account["account_id"]} for image in all_images(ec2)]
    return images


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def comparable(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("seconds", "generated_at")}


def fingerprint(aws, summary: dict) -> list[tuple]:
    """What must repeat for a seed: ids, names, states and ages relative to generation."""
    generated = when(summary["generated_at"])
    ec2 = aws.client("ec2", "us-east-1", account_id="210987654321")
    return sorted(
        (
            image["ImageId"],
            image["Name"],
            image["State"],
            generated - when(image["CreationDate"]),
            image.get("DeprecationTime") and when(image["DeprecationTime"]) - generated,
        )
        for image in all_images(ec2)
    )


def test_it_generates_the_same_estate_from_the_same_seed(inprocess_aws):
    first = inprocess_aws.load_estate("demo", seed=5)
    first_images = fingerprint(inprocess_aws, first)
    second = inprocess_aws.load_estate("demo", seed=5)
    second_images = fingerprint(inprocess_aws, second)
    other = inprocess_aws.load_estate("demo", seed=6)

    assert comparable(first) == comparable(second)
    assert first_images == second_images
    assert len(first_images) == first["images_by_account_region"]["210987654321"]["us-east-1"]
    assert {i[0] for i in fingerprint(inprocess_aws, other)} != {i[0] for i in first_images}


def absolute_images(aws) -> list[tuple]:
    """Ids, names, states and the times themselves (not ages) of one account's images."""
    ec2 = aws.client("ec2", "us-east-1", account_id="210987654321")
    keys = ("ImageId", "Name", "State", "CreationDate", "DeprecationTime", "LastLaunchedTime")
    return sorted(tuple(image.get(key) for key in keys) for image in all_images(ec2))


def test_it_generates_the_same_times_from_the_same_epoch_at_any_later_now(inprocess_aws):
    epoch = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    first = inprocess_aws.load_estate("demo", seed=5, epoch=epoch)
    first_images = absolute_images(inprocess_aws)
    inprocess_aws.advance_clock(3 * 86400)  # a restart three days later
    second = inprocess_aws.load_estate("demo", seed=5, epoch=epoch)

    assert first["generated_at"] == second["generated_at"] == epoch.isoformat()
    assert absolute_images(inprocess_aws) == first_images
    assert any(image[4] for image in first_images), "deprecation times are compared too"


def test_it_shows_through_the_api_every_count_its_summary_promises(inprocess_aws):
    """One estate (generating it is the slow part) checked for images, then for their use."""
    summary = inprocess_aws.load_estate("demo", seed=42)
    _check_images(inprocess_aws, summary)
    _check_usage(inprocess_aws, summary)
    _check_lineage_references_and_findings(inprocess_aws, summary)


def _check_lineage_references_and_findings(inprocess_aws, summary: dict) -> None:
    """Copy chains three generations deep, SSM parameters and Image Builder recipes naming
    golden images, and Inspector findings, as GetImageAncestry, DescribeImageReferences and
    GetImageFindings answer them."""
    counts = summary["counts"]
    golden = "567890123456"
    far = inprocess_aws.client("ec2", "ap-southeast-2", account_id=golden)
    copies = [i for i in all_images(far) if "SourceImageId" in i]
    depths = {
        len(far.get_image_ancestry(ImageId=i["ImageId"])["ImageAncestryEntries"]) for i in copies
    }
    assert counts["copy_chain_links"] > 0 and depths == {4}  # the copy and three ancestors

    ec2 = inprocess_aws.client("ec2", "us-east-1", account_id=golden)
    ids = [image["ImageId"] for image in all_images(ec2)]
    kinds: Counter = Counter()
    for start in range(0, len(ids), 10):
        pages = ec2.get_paginator("describe_image_references").paginate(
            ImageIds=ids[start : start + 10],
            ResourceTypes=[
                {"ResourceType": kind}
                for kind in (
                    "ssm:Parameter",
                    "imagebuilder:ImageRecipe",
                    "imagebuilder:ContainerRecipe",
                )
            ],
        )
        kinds.update(r["ResourceType"] for page in pages for r in page["ImageReferences"])
    assert kinds == {
        "ssm:Parameter": counts["ssm_parameters"],
        "imagebuilder:ImageRecipe": counts["image_recipes"],
        "imagebuilder:ContainerRecipe": counts["container_recipes"],
    }
    assert counts["ssm_parameters"] > 0 and counts["container_recipes"] > 0

    with_findings = critical = 0
    for account in summary["accounts"]:
        for region in account["regions"]:
            client = inprocess_aws.client("ec2", region, account_id=account["account_id"])
            for image in all_images(client):
                found = client.get_image_findings(ImageId=image["ImageId"])["ImageFindings"]
                with_findings += bool(found)
                critical += any(f["SeverityLabel"] == "critical" for f in found)
    assert with_findings == counts["images_with_findings"] > 0
    assert critical == counts["images_with_critical_findings"] > 0


def _check_images(inprocess_aws, summary: dict) -> None:
    counts = summary["counts"]
    images = estate_images(inprocess_aws, summary)
    now = inprocess_aws.now()

    assert 2000 <= counts["images"] == len(images)
    assert Counter(image["Account"] for image in images) == summary["images_by_account"]
    deprecations = [when(i["DeprecationTime"]) for i in images if i.get("DeprecationTime")]
    assert counts["deprecated_past"] == sum(moment <= now for moment in deprecations) > 0
    assert counts["deprecated_future"] == sum(moment > now for moment in deprecations) > 0
    assert counts["disabled"] == sum(i["State"] == "disabled" for i in images) > 0
    assert counts["public"] == sum(i["Public"] for i in images) > 0
    assert counts["copies"] == sum("SourceImageId" in i for i in images) > 0
    protected = [i for i in images if i["DeregistrationProtection"].startswith("enabled")]
    assert counts["protected"] == len(protected) > 0
    assert counts["snapshot_gib"] == sum(
        m["Ebs"]["VolumeSize"] for i in images for m in i["BlockDeviceMappings"]
    )
    assert len({m["Ebs"]["VolumeSize"] for i in images for m in i["BlockDeviceMappings"]}) > 4

    # ages from days to years, names as image pipelines make them
    ages = [now - when(image["CreationDate"]) for image in images]

    assert min(ages) < timedelta(days=14)
    assert max(ages) > timedelta(days=3 * 365)
    assert all(NAME.match(image["Name"]) for image in images), [
        image["Name"] for image in images if not NAME.match(image["Name"])
    ][:5]
    names = {image["Name"] for image in images}
    assert any(name.startswith("base-al2023-x86_64-20") for name in names)
    assert any(re.fullmatch(r"web-api-ubuntu22-v\d+", name) for name in names)


def _check_usage(inprocess_aws, summary: dict) -> None:
    """Images are used every way AWS allows."""
    counts = summary["counts"]
    states, groups, used = Counter(), [], set()
    templates = versions = recycled = 0
    for account in summary["accounts"]:
        for region in account["regions"]:
            ec2 = inprocess_aws.client("ec2", region, account_id=account["account_id"])
            autoscaling = inprocess_aws.client(
                "autoscaling", region, account_id=account["account_id"]
            )
            for reservation in ec2.describe_instances()["Reservations"]:
                for instance in reservation["Instances"]:
                    states[instance["State"]["Name"]] += 1
                    used.add(instance["ImageId"])
            for template in ec2.describe_launch_templates()["LaunchTemplates"]:
                templates += 1
                listed = ec2.describe_launch_template_versions(
                    LaunchTemplateId=template["LaunchTemplateId"]
                )["LaunchTemplateVersions"]
                versions += len(listed)
                used.update(v["LaunchTemplateData"]["ImageId"] for v in listed)
                assert template["DefaultVersionNumber"] < template["LatestVersionNumber"]
                assert len({v["LaunchTemplateData"]["ImageId"] for v in listed}) >= 2
            groups += autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
            used.update(
                configuration["ImageId"]
                for configuration in autoscaling.describe_launch_configurations()[
                    "LaunchConfigurations"
                ]
            )
            recycled += len(ec2.list_images_in_recycle_bin()["Images"])

    assert counts["instances_running"] == states["running"] > 0
    assert counts["instances_stopped"] == states["stopped"] > 0
    assert counts["launch_templates"] == templates > 0
    assert counts["launch_template_versions"] == versions
    assert counts["recycle_bin"] == recycled > 0
    assert counts["auto_scaling_groups"] == len(groups)
    by_configuration = [g for g in groups if g.get("LaunchConfigurationName")]
    by_template = [g for g in groups if g.get("LaunchTemplate")]
    mixed = [g for g in groups if g.get("MixedInstancesPolicy")]
    assert counts["auto_scaling_groups_launch_configuration"] == len(by_configuration) > 0
    assert counts["auto_scaling_groups_launch_template"] == len(by_template) > 0
    assert counts["auto_scaling_groups_mixed_instances"] == len(mixed) > 0
    scaled_to_zero = [g for g in groups if g["DesiredCapacity"] == 0]
    assert counts["auto_scaling_groups_scaled_to_zero"] == len(scaled_to_zero) > 0
    assert counts["unused"] == counts["images"] - len(used & _owned_image_ids(summary))


def _owned_image_ids(summary: dict) -> set[str]:
    from moto.ec2.models import ec2_backends

    return {
        image_id
        for account in summary["accounts"]
        for region in account["regions"]
        for image_id in ec2_backends[account["account_id"]][region].amis
    }


def test_it_builds_an_organization_whose_roles_amidash_assumes_into_each_account(aws):
    summary = aws.load_estate("demo", seed=42)
    organizations = aws.client("organizations")
    sts = aws.client("sts")

    listed = organizations.list_accounts()["Accounts"]
    assert sorted(a["Id"] for a in listed) == sorted(a["account_id"] for a in summary["accounts"])
    for account in summary["accounts"]:
        credentials = sts.assume_role(
            RoleArn=account["role_arn"],
            RoleSessionName="amidash-sync",
            ExternalId=account["external_id"],
        )["Credentials"]
        region = account["regions"][0]
        ec2 = boto3.client(
            "ec2",
            region_name=region,
            endpoint_url=aws.endpoint_url,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )
        images = all_images(ec2)
        expected = summary["images_by_account_region"][account["account_id"]][region]
        assert len(images) == expected
        assert {image["OwnerId"] for image in images} == {account["account_id"]}


def test_it_refuses_assume_role_with_the_wrong_external_id(aws):
    summary = aws.load_estate("demo", seed=42)
    prod = next(account for account in summary["accounts"] if account["name"] == "prod")
    sts = aws.client("sts")

    for wrong in ({"ExternalId": "guess"}, {}):
        with pytest.raises(ClientError) as raised:
            sts.assume_role(RoleArn=prod["role_arn"], RoleSessionName="amidash", **wrong)
        assert raised.value.response["Error"]["Code"] == "AccessDenied"


def test_it_names_the_accounts_to_register_without_generating_anything():
    accounts = estate_accounts(seed=42, estate="demo")

    assert [a["name"] for a in accounts] == [
        "management",
        "prod",
        "staging",
        "dev",
        "shared-services",
    ]
    assert accounts[0]["management"] and not any(a["management"] for a in accounts[1:])
    assert all(a["role_arn"].endswith(":role/AmidashReadOnly") for a in accounts)
    assert estate_accounts(seed=43, estate="demo")[1]["external_id"] != accounts[1]["external_id"]
    assert estate_accounts(seed=42, estate="empty") == []
    with pytest.raises(ValueError, match="unknown estate 'huge'"):
        estate_accounts(seed=42, estate="huge")


def test_it_loads_an_empty_estate_with_nothing_in_it(inprocess_aws):
    inprocess_aws.load_estate("demo", seed=1)
    summary = inprocess_aws.load_estate("empty", seed=1)

    assert summary["accounts"] == []
    assert summary["counts"]["images"] == 0
    assert inprocess_aws.client("ec2").describe_images(Owners=["self"])["Images"] == []


def test_it_brings_up_the_large_estate_with_100000_images(inprocess_aws):
    summary = inprocess_aws.load_estate("large", seed=42)

    assert summary["counts"]["images"] >= LARGE_IMAGE_COUNT
    assert sum(summary["images_by_account"].values()) == summary["counts"]["images"]
    assert len(summary["regions"]) == 5
    page = inprocess_aws.client("ec2", "eu-central-1", account_id="210987654321").describe_images(
        Owners=["self"], MaxResults=1000, IncludeDeprecated=True, IncludeDisabled=True
    )
    assert len(page["Images"]) == 1000
    assert page["NextToken"]


def test_it_registers_the_estate_accounts_for_the_demo(db):
    from amidash.demo import register_estate_accounts
    from inventory.models import Account
    from lifecycle.models import AuditEvent

    accounts = estate_accounts(seed=42, estate="demo")
    start = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first()
    register_estate_accounts(accounts)
    register_estate_accounts(accounts)  # running the demo again changes nothing
    added = AuditEvent.objects.filter(sequence__gt=start or 0, verb__startswith="account.")
    assert [(e.verb, e.source) for e in added] == [("account.added", "cli")] * len(accounts)

    registered = {a.account_id: a for a in Account.objects.all()}
    assert sorted(registered) == sorted(a["account_id"] for a in accounts)
    assert registered["123456789012"].uses_ambient_credentials
    prod = registered["210987654321"]
    assert prod.name == "prod"
    assert prod.role_arn == "arn:aws:iam::210987654321:role/AmidashReadOnly"
    assert prod.external_id == accounts[1]["external_id"]


def test_accounts_outside_the_registered_ones_use_shared_images(inprocess_aws):
    """A usage report of shared-services' images names the partner and vendor accounts."""
    from amidash.sandbox.estate import SHARED_SERVICES
    from amidash.sandbox.estate_consumers import PARTNER, VENDOR

    summary = inprocess_aws.load_estate("demo", seed=42)
    registered = {account["account_id"] for account in summary["accounts"]}
    assert summary["outside_consumers"] == [PARTNER, VENDOR]
    assert not registered & set(summary["outside_consumers"])
    ec2 = inprocess_aws.client("ec2", "us-east-1", account_id=SHARED_SERVICES)
    exposed = [
        image["ImageId"]
        for image in ec2.describe_images(Owners=["self"])["Images"]
        if image["Public"]
        or any(
            p.get("UserId") == PARTNER
            for p in ec2.describe_image_attribute(
                ImageId=image["ImageId"], Attribute="launchPermission"
            )["LaunchPermissions"]
        )
    ]
    consumers = set()
    used = set()
    for image_id in exposed:
        report_id = ec2.create_image_usage_report(
            ImageId=image_id,
            ResourceTypes=[
                {"ResourceType": "ec2:Instance"},
                {"ResourceType": "ec2:LaunchTemplate"},
            ],
        )["ReportId"]
        ec2.describe_image_usage_reports(ReportIds=[report_id])
        entries = ec2.describe_image_usage_report_entries(ReportIds=[report_id])
        for entry in entries["ImageUsageReportEntries"]:
            consumers.add(entry["AccountId"])
            used.add(image_id)
    assert consumers >= {PARTNER, VENDOR}
    assert len(used & set(exposed)) >= summary["counts"]["images_used_outside"] > 0


def test_the_demo_audits_allowed_amis_in_some_regions_and_a_policy_manages_one(inprocess_aws):
    """GetAllowedImagesSettings per account and Region; DescribeInstanceImageMetadata's
    ImageAllowed outside disabled mode."""
    inprocess_aws.load_estate("demo", seed=42)

    def setting(account_id: str, region: str = "us-east-1") -> dict:
        ec2 = inprocess_aws.client("ec2", region, account_id=account_id)
        return ec2.get_allowed_images_settings()

    assert (setting("210987654321")["State"], setting("210987654321")["ManagedBy"]) == (
        "audit-mode",
        "account",
    )
    assert setting("345678901234")["State"] == "audit-mode"
    assert setting("456789012345")["ManagedBy"] == "declarative-policy"
    assert setting("210987654321", "eu-west-1")["State"] == "disabled"
    staging = inprocess_aws.client("ec2", "us-east-1", account_id="345678901234")
    entries = staging.describe_instance_image_metadata()["InstanceImageMetadata"]
    refused = {
        e["ImageMetadata"]["ImageId"] for e in entries if not e["ImageMetadata"]["ImageAllowed"]
    }
    owners = {
        e["ImageMetadata"]["OwnerId"] for e in entries if e["ImageMetadata"]["ImageId"] in refused
    }
    assert refused and owners == {"567890123456"}
