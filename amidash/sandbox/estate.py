"""The estate generator: a realistic, deterministic AWS estate for the demo, tests and benchmarks.

`generate_estate(name, seed)` fills the moto backends of this process with an Organization of
several accounts (each with a cross-account role that amidash assumes with an external id), image
families with realistic names, versions and ages, everything that can use an image (running and
stopped instances, launch template versions, Auto Scaling groups by launch configuration, launch
template and mixed instances policy, some scaled to zero) and every image state (unused,
deprecated in the past and in the future, disabled, public, shared, copied across Regions, in the
Recycle Bin, protected against deregistration), accounts outside the five that use shared
images (``estate_consumers``) and, from ``estate_lineage``, copy chains, Inspector findings and
SSM parameters and Image Builder recipes naming images. It returns a summary with the counts it
promises.

Same name and seed, same estate: ids, names, states and ages (relative to the sandbox clock, or
to an explicit epoch: then the times themselves repeat, so a restarted sandbox shows the same
estate and a sync of it finds no changes).

Images are seeded straight into moto's backend objects (the API would take minutes for
``large``); usage, copies and the Recycle Bin go through the API in-process (no HTTP), so they
follow the same rules as any client's calls. Either way the result looks the same through the API.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from amidash.sandbox import clock, faults
from amidash.sandbox.estate_consumers import OUTSIDE_CONSUMERS, add_outside_consumers
from amidash.sandbox.estate_lineage import add_lineage_references_and_findings
from amidash.sandbox.extensions import images as image_rules
from amidash.sandbox.extensions.common import parse_timestamp

ESTATES = ("empty", "demo", "large")
MANAGEMENT_ACCOUNT_ID = "123456789012"
PROD = "210987654321"
STAGING = "345678901234"
DEV = "456789012345"
SHARED_SERVICES = "567890123456"
ROLE_NAME = "AmidashReadOnly"
LARGE_IMAGE_COUNT = 100_000
ACCESS_KEY_ID = "AKIASANDBOXESTATE000"
SECRET_ACCESS_KEY = "sandbox-estate-secret"


@dataclass(frozen=True)
class AccountPlan:
    """One account of the Organization: what it is for and where it has images."""

    account_id: str
    name: str
    regions: tuple[str, ...]
    families: tuple[str, ...]
    workloads: bool  # runs instances and Auto Scaling groups from its images

    @property
    def email(self) -> str:
        return f"aws+{self.name}@example.com"


@dataclass(frozen=True)
class Family:
    """An image family: a build pipeline that bakes a new version every `cadence_days`."""

    prefix: str
    style: str  # calendar (2024.11.3), build (v142), date (20241103), semver (3.14.2)
    cadence_days: float
    versions: int  # in the family's primary Region of the demo estate
    size_gib: int
    architecture: str = "x86_64"
    platform: str | None = None
    team: str = "platform"


FAMILIES = {
    family.prefix: family
    for family in (
        Family("base-al2023-x86_64", "calendar", 7, 60, 8),
        Family("base-al2023-arm64", "calendar", 7, 45, 8, architecture="arm64"),
        Family("base-ubuntu22-x86_64", "date", 14, 40, 10),
        Family("bastion-al2", "date", 45, 18, 8, team="security"),
        Family("windows-2022-iis", "calendar", 30, 20, 50, platform="windows", team="web"),
        Family("web-api-ubuntu22", "build", 3, 90, 30, team="web"),
        Family("worker-al2023", "build", 5, 70, 20, team="backend"),
        Family("payments-svc", "semver", 10, 45, 40, team="payments"),
        Family("data-pipeline-spark", "semver", 21, 30, 100, team="data"),
        Family("gpu-inference-cuda12", "build", 14, 25, 200, team="ml"),
        Family("legacy-monolith-centos7", "semver", 60, 20, 60, team="legacy"),
    )
}

ACCOUNTS = (
    AccountPlan(
        MANAGEMENT_ACCOUNT_ID, "management", ("us-east-1",), ("bastion-al2",), workloads=False
    ),
    AccountPlan(
        PROD,
        "prod",
        ("us-east-1", "us-west-2", "eu-west-1"),
        (
            "web-api-ubuntu22",
            "worker-al2023",
            "payments-svc",
            "windows-2022-iis",
            "legacy-monolith-centos7",
        ),
        workloads=True,
    ),
    AccountPlan(
        STAGING,
        "staging",
        ("us-east-1", "eu-west-1"),
        ("web-api-ubuntu22", "worker-al2023", "payments-svc", "data-pipeline-spark"),
        workloads=True,
    ),
    AccountPlan(
        DEV,
        "dev",
        ("us-east-1", "us-west-2"),
        ("web-api-ubuntu22", "worker-al2023", "gpu-inference-cuda12", "data-pipeline-spark"),
        workloads=True,
    ),
    AccountPlan(
        SHARED_SERVICES,
        "shared-services",
        ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"),
        (
            "base-al2023-x86_64",
            "base-al2023-arm64",
            "base-ubuntu22-x86_64",
            "bastion-al2",
            "windows-2022-iis",
        ),
        workloads=False,
    ),
)
# Extra Regions the large estate populates for every account.
LARGE_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2")
# Families whose workloads run from Auto Scaling groups by launch configuration (the old way).
LAUNCH_CONFIGURATION_FAMILIES = frozenset({"legacy-monolith-centos7", "windows-2022-iis"})
MIXED_INSTANCES_FAMILIES = frozenset({"worker-al2023", "data-pipeline-spark"})


def external_id(seed: int, account_id: str) -> str:
    """The external id the account's role trusts (deterministic from the seed)."""
    return "amidash-" + hashlib.sha256(f"{seed}:{account_id}".encode()).hexdigest()[:20]


def role_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{ROLE_NAME}"


def estate_accounts(seed: int = 42, estate: str = "demo") -> list[dict[str, Any]]:
    """The accounts an estate has, with what amidash needs to register them."""
    if estate not in ESTATES:
        raise ValueError(f"unknown estate {estate!r}; expected one of {', '.join(ESTATES)}")
    if estate == "empty":
        return []
    return [
        {
            "account_id": plan.account_id,
            "name": plan.name,
            "email": plan.email,
            "management": plan.account_id == MANAGEMENT_ACCOUNT_ID,
            "role_arn": role_arn(plan.account_id),
            "external_id": external_id(seed, plan.account_id),
            "regions": list(_regions_of(plan, estate)),
        }
        for plan in ACCOUNTS
    ]


def _regions_of(plan: AccountPlan, estate: str) -> tuple[str, ...]:
    return LARGE_REGIONS if estate == "large" else plan.regions


# --- in-process API clients (no HTTP, no mock_aws needed) -------------------------------------


def local_client(service: str, region: str, account_id: str, session: Any = None) -> Any:
    """A boto3 client answered by moto's backends in this process, acting in `account_id`."""
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.core.models import botocore_stubber

    from amidash.boto import new_session
    from amidash.sandbox.runtime import act_in_account

    host = "iam.amazonaws.com" if service == "iam" else f"{service}.{region}.amazonaws.com"
    session = session or new_session(
        aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY
    )
    client = session.client(service, region_name=region, endpoint_url=f"https://{host}")
    if not botocore_stubber.enabled:  # mock_aws already answers every client in this process
        stubber = BotocoreStubber()
        stubber.enabled = True
        client.meta.events.register("before-send", stubber)
    return act_in_account(client, account_id)


class Clients:
    """Cached in-process clients per (service, Region, account)."""

    def __init__(self) -> None:
        from amidash.boto import new_session

        self._clients: dict[tuple[str, str, str], Any] = {}
        self._session = new_session(
            aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_ACCESS_KEY
        )

    def __call__(self, service: str, region: str, account_id: str) -> Any:
        key = (service, region, account_id)
        if key not in self._clients:
            self._clients[key] = local_client(service, region, account_id, self._session)
        return self._clients[key]


# --- generation --------------------------------------------------------------------------------


@dataclass
class SeededImage:
    """Bookkeeping of one generated image (what the summary counts)."""

    image: Any
    account_id: str
    region: str
    family: Family
    index: int  # 0 = the newest version
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Estate:
    """Generation state: the random generator, the clients and what was made so far."""

    name: str
    seed: int
    now: datetime
    rng: random.Random
    clients: Clients = field(default_factory=Clients)
    images: dict[tuple[str, str, str], list[SeededImage]] = field(default_factory=dict)
    counts: Counter = field(default_factory=Counter)
    used_images: set[str] = field(default_factory=set)


def generate_estate(
    name: str = "demo", seed: int = 42, epoch: datetime | None = None
) -> dict[str, Any]:
    """Fill this process's (empty) moto backends with the named estate; return its summary.

    Times (creation, deprecation, last launch) are relative to epoch, or to the sandbox clock's
    now when none is given: a fixed epoch makes every time repeat across restarts.
    """
    if name not in ESTATES:
        raise ValueError(f"unknown estate {name!r}; expected one of {', '.join(ESTATES)}")
    started = time.monotonic()
    estate = Estate(
        name=name,
        seed=seed,
        now=(epoch or clock.now()).replace(second=0, microsecond=0),
        rng=random.Random(f"{seed}:{name}"),
    )
    if name != "empty":
        with faults.suspended():
            _build(estate)
    return _summary(estate, time.monotonic() - started)


def _build(estate: Estate) -> None:
    _phase(estate, "organization")
    _create_organization(estate)
    _create_backends(estate)
    _phase(estate, "images")
    with _fast_resource_ids():
        for plan in ACCOUNTS:
            for region in _regions_of(plan, estate.name):
                for prefix in plan.families:
                    _seed_family(estate, plan, region, FAMILIES[prefix])
    _share_golden_images(estate)
    add_outside_consumers(estate, SHARED_SERVICES)
    _phase(estate, "copies")
    _copy_across_regions(estate)
    _phase(estate, "workloads")
    for plan in ACCOUNTS:
        if plan.workloads:
            for region in _regions_of(plan, estate.name)[:2]:
                _add_workloads(estate, plan, region)
    _phase(estate, "allowed-images")
    _set_allowed_images(estate)
    _phase(estate, "recycle-bin")
    _fill_recycle_bin(estate)
    _phase(estate, "lineage")
    add_lineage_references_and_findings(estate)
    _settle_times(estate)


def _settle_times(estate: Estate) -> None:
    """What the estate made through the API (copies, launches) counts as made at its now, not
    at the moment of generation: with a fixed epoch, a regenerated estate has the same times."""
    from moto.ec2.models import ec2_backends

    for account in estate_accounts(estate.seed, estate.name):
        for region in account["regions"]:
            for image in ec2_backends[account["account_id"]][region].amis.values():
                if parse_timestamp(image.creation_date) > estate.now:
                    image_rules.set_creation_date(image, estate.now)
                launched = getattr(image, "last_launched_at", None)
                if launched and launched > estate.now:
                    image_rules.set_last_launched_time(image, estate.now)


def _phase(estate: Estate, name: str) -> None:
    """Re-seed moto's ids at the start of each phase: what ran before cannot shift them."""
    from moto.moto_api._internal import mock_random

    mock_random.seed(f"{estate.seed}:{estate.name}:{name}")


@contextmanager
def _fast_resource_ids() -> Iterator[None]:
    """Draw moto's hex resource ids in one call instead of one per character.

    Each image makes three ids (image, volume, snapshot); moto's per-character draws were most
    of the time the large estate took. Same alphabet and length, from the same seeded source.
    """
    from moto.ec2 import utils
    from moto.moto_api._internal import mock_random

    original = utils.random_resource_id

    def random_resource_id(size: int = 8) -> str:
        return f"{mock_random.getrandbits(4 * size):0{size}x}"

    utils.random_resource_id = random_resource_id
    try:
        yield
    finally:
        utils.random_resource_id = original


def _create_backends(estate: Estate) -> None:
    """Create the Region backends up front: the first one a process makes draws extra ids."""
    from moto.autoscaling.models import autoscaling_backends
    from moto.ec2.models import ec2_backends

    for plan in ACCOUNTS:
        for region in _regions_of(plan, estate.name):
            ec2_backends[plan.account_id][region].describe_vpcs()
            autoscaling_backends[plan.account_id][region].describe_auto_scaling_groups([])


@contextmanager
def _fixed_account_ids(account_ids: list[str]) -> Iterator[None]:
    """moto's CreateAccount draws a random id: hand out the estate's fixed ids instead."""
    from moto.organizations import utils

    original = utils.make_random_account_id
    remaining = iter(account_ids)
    utils.make_random_account_id = lambda: next(remaining)
    try:
        yield
    finally:
        utils.make_random_account_id = original


def _create_organization(estate: Estate) -> None:
    organizations = estate.clients("organizations", "us-east-1", MANAGEMENT_ACCOUNT_ID)
    organizations.create_organization(FeatureSet="ALL")
    members = [plan for plan in ACCOUNTS if plan.account_id != MANAGEMENT_ACCOUNT_ID]
    with _fixed_account_ids([plan.account_id for plan in members]):
        for plan in members:
            organizations.create_account(Email=plan.email, AccountName=plan.name)
    for plan in ACCOUNTS:
        _create_role(estate, plan.account_id)


def _create_role(estate: Estate, account_id: str) -> None:
    import json

    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{MANAGEMENT_ACCOUNT_ID}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"sts:ExternalId": external_id(estate.seed, account_id)}
                },
            }
        ],
    }
    iam = estate.clients("iam", "us-east-1", account_id)
    iam.create_role(
        RoleName=ROLE_NAME,
        AssumeRolePolicyDocument=json.dumps(trust),
        Description="Read-only access for amidash's inventory sync",
        MaxSessionDuration=3600,
    )
    iam.put_role_policy(
        RoleName=ROLE_NAME,
        PolicyName="amidash-inventory",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": [
                            "ec2:Describe*",
                            "autoscaling:Describe*",
                            "rbin:ListRules",
                            "rbin:GetRule",
                        ],
                        "Resource": "*",
                    }
                ],
            }
        ),
    )


def _version_count(estate: Estate, plan: AccountPlan, region: str, family: Family) -> int:
    primary = region == plan.regions[0]
    if estate.name == "large":
        return _large_version_count(plan, region, family)
    count = 2 * family.versions if primary else family.versions
    return max(3, count - estate.rng.randrange(0, 6))


def _large_plan() -> list[tuple[str, str, str]]:
    return [
        (plan.account_id, region, prefix)
        for plan in ACCOUNTS
        for region in LARGE_REGIONS
        for prefix in plan.families
    ]


def _large_version_count(plan: AccountPlan, region: str, family: Family) -> int:
    """Split LARGE_IMAGE_COUNT over every (account, Region, family) of the large estate."""
    slots = _large_plan()
    base, extra = divmod(LARGE_IMAGE_COUNT, len(slots))
    position = slots.index((plan.account_id, region, family.prefix))
    return base + (1 if position < extra else 0)


def _version_name(family: Family, number: int, created: datetime, taken: set[str]) -> str:
    if family.style == "calendar":
        version = f"{created.year}.{created.month}.{created.day // 7 + 1}"
    elif family.style == "date":
        version = f"{created:%Y%m%d}"
    elif family.style == "semver":
        version = f"{1 + number // 40}.{(number // 8) % 5}.{number % 8}"
    else:
        version = f"v{number + 1}"
    name = f"{family.prefix}-{version}"
    suffix = 2
    while name in taken:  # two builds in one period: AWS names must stay unique
        name = f"{family.prefix}-{version}-{suffix}"
        suffix += 1
    taken.add(name)
    return name


def _seed_family(estate: Estate, plan: AccountPlan, region: str, family: Family) -> None:
    """Bake a family's history straight into moto's backend: oldest first, newest last."""
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.amis import Ami
    from moto.ec2.utils import random_ami_id

    backend = ec2_backends[plan.account_id][region]
    count = _version_count(estate, plan, region, family)
    rng = estate.rng
    taken: set[str] = set()
    made: list[SeededImage] = []
    newest_age = rng.uniform(0.5, min(family.cadence_days, 10))
    for number in range(count):
        index = count - 1 - number
        age_days = newest_age + index * family.cadence_days * rng.uniform(0.7, 1.3)
        if family.prefix.startswith("legacy"):
            age_days += 700  # built years ago, no longer rebuilt
        created = estate.now - timedelta(days=age_days, minutes=rng.randrange(0, 1440))
        name = _version_name(family, number, created, taken)
        image_id = random_ami_id()
        tags = {
            "Name": name,
            "Family": family.prefix,
            "Version": name.removeprefix(family.prefix + "-"),
            "Team": family.team,
            "Environment": plan.name,
            "ManagedBy": "image-pipeline",
        }
        image = Ami(
            backend,
            image_id,
            name=name,
            description=f"{family.prefix} {name.removeprefix(family.prefix + '-')} "
            f"built by the {family.team} pipeline",
            architecture=family.architecture,
            platform=family.platform,
            virtualization_type="hvm",
            root_device_type="ebs",
            root_device_name="/dev/xvda",
            hypervisor="xen",
            region_name=f"{region}a",
            boot_mode="uefi-preferred",
            snapshot_description=f"Created by CreateImage for {image_id}",
        )
        backend.amis[image_id] = image
        backend.tags[image_id] = dict(tags)  # what CreateTags stores, without its checks
        image_rules.set_creation_date(image, created)
        size = family.size_gib
        if family.size_gib >= 100:
            size += 10 * rng.randrange(0, 6)
        image_rules.set_root_volume_size(image, size)
        seeded = SeededImage(image, plan.account_id, region, family, index, tags)
        _apply_lifecycle_state(estate, seeded, age_days)
        made.append(seeded)
    made.reverse()  # newest first
    estate.images[(plan.account_id, region, family.prefix)] = made


def _apply_lifecycle_state(estate: Estate, seeded: SeededImage, age_days: float) -> None:
    """Deprecation, disablement, protection and past launches, as a pipeline's history leaves."""
    image, rng, now = seeded.image, estate.rng, estate.now
    created = image.creation_date
    if seeded.index == 0 and seeded.account_id in (PROD, SHARED_SERVICES):
        image_rules.set_deregistration_protection(image, True, cooldown=rng.random() < 0.5)
    if seeded.index >= 3 and rng.random() < 0.7:
        launched = created + timedelta(days=rng.uniform(0, min(age_days, 60)))
        image_rules.set_last_launched_time(image, min(launched, now))
    if age_days > 365 and rng.random() < 0.08:
        image.state = "disabled"
        image.launch_permissions = []
    if age_days > 180 and rng.random() < 0.6:
        image_rules.set_deprecation_time(image, created + timedelta(days=180))
    elif 30 < age_days <= 180 and rng.random() < 0.25:
        image_rules.set_deprecation_time(image, now + timedelta(days=rng.randrange(7, 120)))


def _share_golden_images(estate: Estate) -> None:
    """shared-services shares recent golden images with the member accounts; two are public."""
    members = [plan.account_id for plan in ACCOUNTS if plan.account_id != SHARED_SERVICES]
    for (account_id, region, prefix), images in estate.images.items():
        if account_id != SHARED_SERVICES:
            continue
        for seeded in images[:8]:
            if seeded.image.state == "disabled":
                continue
            for member in members:
                seeded.image.launch_permissions.append({"UserId": member})
        if prefix == "bastion-al2" and region == "us-east-1":
            for seeded in images[:2]:
                seeded.image.launch_permissions.append({"Group": "all"})
    # prod shares its newest payments images with staging for pre-release testing
    for (account_id, _, prefix), images in estate.images.items():
        if account_id == PROD and prefix == "payments-svc":
            for seeded in images[:3]:
                seeded.image.launch_permissions.append({"UserId": STAGING})


def _copy_across_regions(estate: Estate) -> None:
    """Copy the newest golden images from us-east-1 to the other Regions (through CopyImage)."""
    for (account_id, region, prefix), images in list(estate.images.items()):
        if account_id != SHARED_SERVICES or region != "us-east-1":
            continue
        if not prefix.startswith("base-"):
            continue
        for target in ("us-west-2", "eu-west-1"):
            ec2 = estate.clients("ec2", target, account_id)
            for seeded in images[:3]:
                ec2.copy_image(
                    SourceImageId=seeded.image.id,
                    SourceRegion=region,
                    Name=f"{seeded.image.name}-copy",
                    Description=f"Copy of {seeded.image.id} from {region}",
                    TagSpecifications=[
                        {
                            "ResourceType": "image",
                            "Tags": [
                                {"Key": key, "Value": value} for key, value in seeded.tags.items()
                            ],
                        }
                    ],
                )


#: Allowed AMIs of the demo's member accounts in us-east-1: prod audits a rule that allows
#: recent golden images of shared-services, staging audits an Amazon-only rule (which would
#: disallow the golden images it runs), and dev's setting comes from a declarative policy.
ALLOWED_IMAGES = {
    PROD: (
        "audit-mode",
        [
            {
                "ImageProviders": [SHARED_SERVICES],
                "ImageNames": ["base-*"],
                "CreationDateCondition": {"MaximumDaysSinceCreated": 30},
            }
        ],
        "account",
    ),
    STAGING: ("audit-mode", [{"ImageProviders": ["amazon"]}], "account"),
    DEV: ("enabled", [{"ImageProviders": [SHARED_SERVICES]}], "declarative-policy"),
}


def _set_allowed_images(estate: Estate) -> None:
    """Members run instances from shared-services' golden images (a recent and an older
    version), which Allowed AMIs judges; then their us-east-1 settings are set."""
    from amidash.sandbox.extensions.allowed_images import set_allowed_images_setting
    from amidash.sandbox.extensions.common import ec2_backend

    golden = estate.images.get((SHARED_SERVICES, "us-east-1", "base-al2023-x86_64"), [])
    shared = [seeded for seeded in golden[:8] if seeded.image.state == "available"]
    for account_id, (state, criteria, managed_by) in ALLOWED_IMAGES.items():
        if shared:
            ec2 = estate.clients("ec2", "us-east-1", account_id)
            for seeded in (shared[0], shared[-1]):
                ec2.run_instances(
                    ImageId=seeded.image.id, MinCount=1, MaxCount=1, InstanceType="t3.micro"
                )
                estate.used_images.add(seeded.image.id)
        backend = ec2_backend(account_id, "us-east-1")
        set_allowed_images_setting(backend, state, criteria, managed_by)


def _pick(images: list[SeededImage], index: int) -> SeededImage:
    """The version `index` steps back from the newest, or the oldest there is."""
    usable = [seeded for seeded in images if seeded.image.state == "available"]
    return usable[min(index, len(usable) - 1)]


def _add_workloads(estate: Estate, plan: AccountPlan, region: str) -> None:
    ec2 = estate.clients("ec2", region, plan.account_id)
    autoscaling = estate.clients("autoscaling", region, plan.account_id)
    for prefix in plan.families:
        images = estate.images[(plan.account_id, region, prefix)]
        _run_instances(estate, ec2, images)
        if prefix in LAUNCH_CONFIGURATION_FAMILIES:
            _launch_configuration_group(estate, autoscaling, region, prefix, images)
        else:
            _launch_template_and_group(estate, ec2, autoscaling, region, prefix, images)


def _run_instances(estate: Estate, ec2: Any, images: list[SeededImage]) -> None:
    """Running instances from a recent version, a stopped one from an older version."""
    running = _pick(images, estate.rng.randrange(0, 2))
    count = estate.rng.randrange(1, 4)
    ec2.run_instances(
        ImageId=running.image.id, MinCount=count, MaxCount=count, InstanceType="t3.medium"
    )
    estate.used_images.add(running.image.id)
    stopped = _pick(images, estate.rng.randrange(4, 15))
    reservation = ec2.run_instances(
        ImageId=stopped.image.id, MinCount=1, MaxCount=1, InstanceType="t3.small"
    )
    ec2.stop_instances(InstanceIds=[i["InstanceId"] for i in reservation["Instances"]])
    estate.used_images.add(stopped.image.id)


def _launch_template_and_group(
    estate: Estate,
    ec2: Any,
    autoscaling: Any,
    region: str,
    prefix: str,
    images: list[SeededImage],
) -> None:
    """A launch template whose $Default, $Latest and an old version use different images."""
    name = f"{prefix}-lt"
    versions = [_pick(images, 20), _pick(images, 5), _pick(images, 0)]
    ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={"ImageId": versions[0].image.id, "InstanceType": "t3.medium"},
        VersionDescription="initial",
    )
    for seeded in versions[1:]:
        ec2.create_launch_template_version(
            LaunchTemplateName=name,
            SourceVersion="1",
            LaunchTemplateData={"ImageId": seeded.image.id},
        )
    ec2.modify_launch_template(LaunchTemplateName=name, DefaultVersion="2")
    estate.used_images.update(seeded.image.id for seeded in versions)
    scaled_to_zero = estate.rng.random() < 0.35
    size = 0 if scaled_to_zero else 1
    common = {
        "MinSize": 0,
        "MaxSize": 4,
        "DesiredCapacity": size,
        "AvailabilityZones": [f"{region}a", f"{region}b"],
    }
    if prefix in MIXED_INSTANCES_FAMILIES:
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=f"{prefix}-mixed",
            MixedInstancesPolicy={
                "LaunchTemplate": {
                    "LaunchTemplateSpecification": {
                        "LaunchTemplateName": name,
                        "Version": "$Default",
                    },
                    "Overrides": [{"InstanceType": "m6i.large"}, {"InstanceType": "m5.large"}],
                },
                "InstancesDistribution": {"OnDemandPercentageAboveBaseCapacity": 25},
            },
            **common,
        )
        estate.counts["auto_scaling_groups_mixed_instances"] += 1
    else:
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=f"{prefix}-asg",
            LaunchTemplate={"LaunchTemplateName": name, "Version": "$Latest"},
            **common,
        )
        estate.counts["auto_scaling_groups_launch_template"] += 1
    estate.counts["auto_scaling_groups_scaled_to_zero"] += scaled_to_zero


def _launch_configuration_group(
    estate: Estate, autoscaling: Any, region: str, prefix: str, images: list[SeededImage]
) -> None:
    seeded = _pick(images, estate.rng.randrange(1, 6))
    name = f"{prefix}-lc-{seeded.image.name.removeprefix(prefix + '-')}"
    autoscaling.create_launch_configuration(
        LaunchConfigurationName=name, ImageId=seeded.image.id, InstanceType="m5.large"
    )
    scaled_to_zero = estate.rng.random() < 0.5
    size = 0 if scaled_to_zero else 1
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=f"{prefix}-lc-asg",
        LaunchConfigurationName=name,
        MinSize=0,
        MaxSize=2,
        DesiredCapacity=size,
        AvailabilityZones=[f"{region}a"],
    )
    estate.used_images.add(seeded.image.id)
    estate.counts["auto_scaling_groups_launch_configuration"] += 1
    estate.counts["auto_scaling_groups_scaled_to_zero"] += scaled_to_zero


def _fill_recycle_bin(estate: Estate) -> None:
    """prod keeps tagged images 30 days in the bin, dev everything 7 days; deregister some."""
    rules = (
        (
            PROD,
            "us-east-1",
            30,
            [{"ResourceTagKey": "RecycleBin", "ResourceTagValue": "retain"}],
        ),
        (DEV, "us-east-1", 7, []),
    )
    for account_id, region, days, tags in rules:
        rbin = estate.clients("rbin", region, account_id)
        rule: dict[str, Any] = {
            "RetentionPeriod": {"RetentionPeriodValue": days, "RetentionPeriodUnit": "DAYS"},
            "Description": f"Keep deregistered images {days} days",
            "ResourceType": "EC2_IMAGE",
        }
        if tags:
            rule["ResourceTags"] = tags
        rbin.create_rule(**rule)
        ec2 = estate.clients("ec2", region, account_id)
        candidates = [
            seeded
            for (owner, where, _), images in estate.images.items()
            if owner == account_id and where == region
            for seeded in images[25:]
            if seeded.image.id not in estate.used_images and not seeded.image.protection_enabled
        ]
        for seeded in estate.rng.sample(candidates, min(6, len(candidates))):
            if tags:
                ec2.create_tags(
                    Resources=[seeded.image.id], Tags=[{"Key": "RecycleBin", "Value": "retain"}]
                )
            ec2.deregister_image(ImageId=seeded.image.id)
            estate.counts["recycle_bin"] += 1


# --- the summary -------------------------------------------------------------------------------


def _summary(estate: Estate, seconds: float) -> dict[str, Any]:
    """What the estate holds, counted from moto's backends (so it is what the API answers)."""
    from moto.ec2.models import ec2_backends

    counts: Counter = Counter()
    by_account: Counter = Counter()
    by_region: Counter = Counter()
    by_account_region: dict[str, dict[str, int]] = {}
    accounts = estate_accounts(estate.seed, estate.name)
    used = _images_in_use(accounts)
    for account in accounts:
        for region in account["regions"]:
            backend = ec2_backends[account["account_id"]][region]
            _count_images(backend, estate.now, used, counts)
            by_account[account["account_id"]] += len(backend.amis)
            by_region[region] += len(backend.amis)
            by_account_region.setdefault(account["account_id"], {})[region] = len(backend.amis)
            _count_usage(backend, counts)
    counts.update(
        {
            key: estate.counts[key]
            for key in (
                "recycle_bin",
                "copy_chain_links",
                "ssm_parameters",
                "image_recipes",
                "container_recipes",
                "images_with_findings",
                "images_with_critical_findings",
                "auto_scaling_groups_launch_template",
                "auto_scaling_groups_launch_configuration",
                "auto_scaling_groups_mixed_instances",
                "auto_scaling_groups_scaled_to_zero",
                "images_used_outside",
            )
        }
    )
    counts["auto_scaling_groups"] = sum(
        estate.counts[key]
        for key in (
            "auto_scaling_groups_launch_template",
            "auto_scaling_groups_launch_configuration",
            "auto_scaling_groups_mixed_instances",
        )
    )
    counts["accounts"] = len(accounts)
    return {
        "name": estate.name,
        "seed": estate.seed,
        "generated_at": estate.now.isoformat(),
        "seconds": round(seconds, 2),
        "management_account_id": MANAGEMENT_ACCOUNT_ID if accounts else None,
        "role_name": ROLE_NAME if accounts else None,
        "accounts": accounts,
        "outside_consumers": list(OUTSIDE_CONSUMERS) if accounts else [],
        "regions": sorted({region for account in accounts for region in account["regions"]}),
        "counts": {"images": 0, **dict(sorted(counts.items()))},
        "images_by_account": dict(sorted(by_account.items())),
        "images_by_region": dict(sorted(by_region.items())),
        "images_by_account_region": by_account_region,
    }


def _count_images(backend: Any, now: datetime, used: set[str], counts: Counter) -> None:
    for image in backend.amis.values():
        counts["images"] += 1
        counts["snapshot_gib"] += sum(
            mapping["Ebs"].get("VolumeSize", 0) for mapping in image.block_device_mappings
        )
        deprecate_at = getattr(image, "deprecate_at", None)
        if deprecate_at is not None:
            counts["deprecated_past" if deprecate_at <= now else "deprecated_future"] += 1
        counts["disabled"] += image.state == "disabled"
        counts["public"] += image.is_public
        counts["shared"] += any("UserId" in p for p in image.launch_permissions)
        counts["protected"] += bool(getattr(image, "protection_enabled", False))
        counts["copies"] += bool(getattr(image, "source_image_id", None))
        counts["unused"] += image.id not in used
    counts["snapshots"] += len(backend.snapshots)


def _count_usage(backend: Any, counts: Counter) -> None:
    for reservation in backend.reservations.values():
        for instance in reservation.instances:
            state = instance._state.name
            if state in ("running", "stopped"):
                counts[f"instances_{state}"] += 1
    counts["launch_templates"] += len(backend.launch_templates)
    counts["launch_template_versions"] += sum(
        len(template.versions) for template in backend.launch_templates.values()
    )


def _images_in_use(accounts: list[dict[str, Any]]) -> set[str]:
    """Image ids that an instance, a launch template version or a launch configuration uses."""
    from moto.autoscaling.models import autoscaling_backends
    from moto.ec2.models import ec2_backends

    used: set[str] = set()
    for account in accounts:
        for region in account["regions"]:
            backend = ec2_backends[account["account_id"]][region]
            for reservation in backend.reservations.values():
                used.update(
                    i.image_id for i in reservation.instances if i._state.name != "terminated"
                )
            for template in backend.launch_templates.values():
                used.update(version.image_id for version in template.versions)
            autoscaling = autoscaling_backends[account["account_id"]][region]
            used.update(lc.image_id for lc in autoscaling.launch_configurations.values())
    return used
