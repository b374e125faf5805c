"""The sync stores each account+Region's Allowed AMIs setting and the images its instances run
(GetAllowedImagesSettings, DescribeInstanceImageMetadata), and the simulator judges them."""

from __future__ import annotations

import pytest

from amidash.sandbox.extensions.allowed_images import set_allowed_images_setting
from amidash.sandbox.extensions.common import ec2_backend
from inventory.choices import RegionSyncStatus
from inventory.models import AllowedImagesSetting, InstanceImage
from inventory.services.allowed_images import evaluate
from tests.amidash.sandbox.images import (
    OTHER_REGION,
    REGION,
    VENDOR,
    public_image,
    register_image,
)
from tests.factories import sync

pytestmark = pytest.mark.django_db
ACCOUNT = "123456789012"


def launch(aws, image_id: str) -> str:
    answer = aws.client("ec2").run_instances(ImageId=image_id, MinCount=1, MaxCount=1)
    return answer["Instances"][0]["InstanceId"]


@pytest.fixture
def audited(aws):
    """us-east-1 in audit mode allowing golden-* images; two instances, one on a disallowed
    public image, one on the account's own image."""
    golden_id, other_id = public_image(aws, "golden-1"), public_image(aws, "random-1")
    own_id = register_image(aws, "own-1")
    instances = {image_id: launch(aws, image_id) for image_id in (golden_id, other_id, own_id)}
    ec2 = aws.client("ec2")
    ec2.replace_image_criteria_in_allowed_images_settings(
        ImageCriteria=[{"ImageNames": ["golden-*"]}]
    )
    ec2.enable_allowed_images_settings(AllowedImagesSettingsState="audit-mode")
    return {"golden": golden_id, "other": other_id, "own": own_id, "instances": instances}


def test_the_sync_stores_settings_and_instance_images(aws, audited):
    run = sync()

    assert set(run.results.values_list("status", flat=True)) == {RegionSyncStatus.SUCCEEDED}
    settings = {s.account_region.region: s for s in AllowedImagesSetting.objects.all()}
    assert settings[REGION].state == "audit-mode"
    assert settings[REGION].criteria == [{"ImageNames": ["golden-*"]}]
    assert settings[OTHER_REGION].state == "disabled"
    rows = {row.image_id: row for row in InstanceImage.objects.all()}
    assert rows[audited["other"]].image_allowed is False
    assert rows[audited["golden"]].image_allowed is True
    assert rows[audited["own"]].image_allowed is True
    assert rows[audited["other"]].image_owner_id == VENDOR
    assert rows[audited["other"]].instance_id == audited["instances"][audited["other"]]


def test_a_resync_forgets_terminated_instances(aws, audited):
    sync()
    aws.client("ec2").terminate_instances(InstanceIds=[audited["instances"][audited["other"]]])

    sync()

    assert audited["other"] not in set(InstanceImage.objects.values_list("image_id", flat=True))


def test_the_product_agrees_with_aws_on_the_stored_instances(aws, audited):
    sync()
    setting = AllowedImagesSetting.objects.get(account_region__region=REGION)

    current = evaluate([setting])

    assert {v.image_id for v in current.disallowed} == {audited["other"]}
    reported = InstanceImage.objects.filter(image_allowed=False)
    assert {row.image_id for row in reported} == {audited["other"]}


def test_the_simulator_says_what_new_criteria_would_disallow(aws, audited):
    sync()
    setting = AllowedImagesSetting.objects.get(account_region__region=REGION)

    simulated = evaluate([setting], criteria=[{"ImageNames": ["random-*"]}])

    assert {v.image_id for v in simulated.disallowed} == {audited["golden"]}
    assert simulated.newly_disallowed == {(ACCOUNT, REGION, audited["golden"])}
    assert simulated.disallowed_instances == 1
    assert simulated.images_checked == 3


def test_a_declarative_policy_setting_is_stored_as_such(aws):
    set_allowed_images_setting(
        ec2_backend(ACCOUNT, REGION),
        "enabled",
        [{"ImageProviders": ["amazon"]}],
        "declarative-policy",
    )

    sync()

    setting = AllowedImagesSetting.objects.get(account_region__region=REGION)
    assert setting.is_policy_managed and setting.state == "enabled"


def test_a_denied_read_keeps_what_was_stored_and_says_so(aws, audited):
    sync()
    aws.set_fault("unsupported", action="DescribeInstanceImageMetadata")

    run = sync()

    result = run.results.get(region=REGION)
    assert result.status == RegionSyncStatus.SUCCEEDED
    assert "Allowed AMIs not read" in result.error
    assert InstanceImage.objects.count() == 3
