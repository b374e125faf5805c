"""The demo estate beyond the console: copy chains, Inspector findings, and images referenced by
SSM parameters and Image Builder recipes, so the lineage, references and findings pages have
something to show.

- Copy chains: the golden base images that ``estate`` copied from us-east-1 to us-west-2 are
  copied on to eu-central-1 and from there to ap-southeast-2 (three generations below the root),
  through CopyImage, so each copy records its source as AWS does.
- Findings: a share of each family's images get Amazon Inspector findings, older versions more
  and worse ones (set on the images, as Inspector would report them).
- References: SSM parameters that publish the newest golden images (the usual
  ``/golden/<family>/latest``) and Image Builder image and container recipes built on them.

Its own random generator (from the estate's seed) keeps the rest of the estate as it was.
"""

from __future__ import annotations

import itertools
import random
from typing import TYPE_CHECKING, Any

from amidash.sandbox.extensions.findings import set_image_findings
from amidash.sandbox.extensions.references import add_image_recipe

if TYPE_CHECKING:
    from amidash.sandbox.estate import Estate, SeededImage

GOLDEN_ACCOUNT = "567890123456"  # shared-services (estate.SHARED_SERVICES)
CHAIN = ("us-west-2", "eu-central-1", "ap-southeast-2")
CHAINED_FAMILIES = ("base-al2023-x86_64", "base-ubuntu22-x86_64")
PUBLISHED_FAMILIES = ("base-al2023-x86_64", "base-al2023-arm64", "base-ubuntu22-x86_64")
PACKAGES = ("openssl", "glibc", "curl", "sudo", "libxml2", "zlib", "python3", "kernel")
SEVERITIES = ("critical", "high", "medium", "low", "informational")


def add_lineage_references_and_findings(estate: Estate) -> None:
    rng = random.Random(f"{estate.seed}:{estate.name}:lineage")
    _extend_copy_chains(estate)
    _publish_golden_images(estate)
    _add_findings(estate, rng)


def _copies_in(account_id: str, region: str) -> list[Any]:
    from moto.ec2.models import ec2_backends

    amis = ec2_backends[account_id][region].amis.values()
    return sorted((a for a in amis if a.source_image_id), key=lambda a: a.id)


def _extend_copy_chains(estate: Estate) -> None:
    """us-west-2 copies -> eu-central-1 -> ap-southeast-2, for the chained families."""
    for source_region, target_region in itertools.pairwise(CHAIN):
        ec2 = estate.clients("ec2", target_region, GOLDEN_ACCOUNT)
        for copy in _copies_in(GOLDEN_ACCOUNT, source_region):
            if not copy.name.startswith(CHAINED_FAMILIES):
                continue
            ec2.copy_image(
                SourceImageId=copy.id,
                SourceRegion=source_region,
                Name=copy.name,  # a name is unique per Region: the copy keeps its source's
                Description=f"Copy of {copy.id} from {source_region}",
                CopyImageTags=True,
            )
            estate.counts["copy_chain_links"] += 1


def _newest(estate: Estate, account_id: str, region: str, prefix: str) -> SeededImage | None:
    usable = [
        seeded
        for seeded in estate.images.get((account_id, region, prefix), [])
        if seeded.image.state == "available"
    ]
    return usable[0] if usable else None


def _publish_golden_images(estate: Estate) -> None:
    """An SSM parameter per golden family; an image recipe and a container recipe on them."""
    ssm = estate.clients("ssm", "us-east-1", GOLDEN_ACCOUNT)
    for prefix in PUBLISHED_FAMILIES:
        newest = _newest(estate, GOLDEN_ACCOUNT, "us-east-1", prefix)
        if newest is None:
            continue
        ssm.put_parameter(
            Name=f"/golden/{prefix}/latest",
            Value=newest.image.id,
            Type="String",
            DataType="aws:ec2:image",
        )
        estate.counts["ssm_parameters"] += 1
        add_image_recipe(GOLDEN_ACCOUNT, "us-east-1", f"{prefix}-hardened", newest.image.id)
        estate.counts["image_recipes"] += 1
    arm = _newest(estate, GOLDEN_ACCOUNT, "us-east-1", "base-al2023-arm64")
    if arm is not None:
        add_image_recipe(GOLDEN_ACCOUNT, "us-east-1", "app-runtime", arm.image.id, container=True)
        estate.counts["container_recipes"] += 1


def _add_findings(estate: Estate, rng: random.Random) -> None:
    """Older versions carry more and worse findings; about a third of the newest are clean."""
    from amidash.sandbox.extensions.common import ec2_backend

    for (account_id, region, _), images in estate.images.items():
        present = ec2_backend(account_id, region).amis  # not those in the Recycle Bin
        for seeded in images:
            if seeded.image.id not in present:
                continue
            count = rng.randrange(0, 3 + min(seeded.index, 12))
            if count == 0:
                continue
            worst = 0 if seeded.index >= 3 and rng.random() < 0.25 else 1
            findings = [_finding(rng, worst) for _ in range(count)]
            set_image_findings(seeded.account_id, seeded.region, seeded.image.id, findings)
            estate.counts["images_with_findings"] += 1
            estate.counts["images_with_critical_findings"] += any(
                finding["SeverityLabel"] == "critical" for finding in findings
            )


def _finding(rng: random.Random, worst: int) -> dict[str, Any]:
    severity = SEVERITIES[rng.randrange(worst, len(SEVERITIES))]
    package = rng.choice(PACKAGES)
    year, number = rng.randrange(2022, 2026), rng.randrange(1000, 50000)
    return {
        "Title": f"CVE-{year}-{number} - {package}",
        "SeverityLabel": severity,
        "Score": round(
            rng.uniform(9.0, 10.0) if severity == "critical" else rng.uniform(1, 8.9), 1
        ),
        "FixAvailable": rng.random() < 0.7,
        "Paths": [f"/usr/lib64/{package}.so"],
    }
