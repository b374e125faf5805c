"""Consumers outside the registered accounts: who else uses the demo's shared golden images.

amidash inventories five accounts; real golden images are also shared with partners and
vendors that amidash never syncs, and only the owner's AMI usage reports show their use
(amidash.sandbox.extensions.usage_reports). Here shared-services shares its newest base images
in us-east-1 with a partner account, which runs instances and keeps a launch template of them,
and a vendor account runs an instance of a public bastion image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from amidash.sandbox.estate import Estate

PARTNER = "888877776666"
VENDOR = "999900001111"
#: Accounts that use the demo's images but are not registered in amidash.
OUTSIDE_CONSUMERS = (PARTNER, VENDOR)
REGION = "us-east-1"


def add_outside_consumers(estate: Estate, owner: str) -> None:
    """Share ``owner``'s newest base images with the partner and let both outsiders use them."""
    partner = estate.clients("ec2", REGION, PARTNER)
    used: set[str] = set()
    for prefix in ("base-al2023-x86_64", "base-ubuntu22-x86_64"):
        newest = _available(estate, owner, prefix)[:2]
        for seeded in newest:
            seeded.image.launch_permissions.append({"UserId": PARTNER})
        if not newest:
            continue
        partner.run_instances(
            ImageId=newest[0].image.id, MinCount=2, MaxCount=2, InstanceType="t3.medium"
        )
        partner.create_launch_template(
            LaunchTemplateName=f"partner-{prefix}",
            LaunchTemplateData={"ImageId": newest[-1].image.id, "InstanceType": "t3.medium"},
        )
        used.update(seeded.image.id for seeded in newest)
    public = [s for s in _available(estate, owner, "bastion-al2") if s.image.is_public][:1]
    for seeded in public:
        estate.clients("ec2", REGION, VENDOR).run_instances(
            ImageId=seeded.image.id, MinCount=1, MaxCount=1, InstanceType="t3.micro"
        )
        used.add(seeded.image.id)
    estate.counts["images_used_outside"] = len(used)


def _available(estate: Estate, owner: str, prefix: str) -> list:
    images = estate.images.get((owner, REGION, prefix), [])
    return [seeded for seeded in images if seeded.image.state == "available"]
