"""ObservedImage: one value for an observed image, written down exactly as stored data has it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from inventory import signals
from inventory.models import Account, AccountRegion, Image
from inventory.observations import ObservedImage
from inventory.services.upsert import upsert_images
from lifecycle.services.preview import observed_state
from lifecycle.services.requests import compute_fingerprint

ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"
IMAGE_ID = "ami-0123456789abcdef0"
DEPRECATE_AT = datetime(2031, 5, 1, 12, 30, tzinfo=UTC)
#: A DescribeImages entry as EC2 answers it.
DESCRIBED = {
    "ImageId": IMAGE_ID,
    "Name": "web-1.2",
    "State": "disabled",
    "DeprecationTime": "2031-05-01T12:30:00.000Z",
    "Public": False,
    "CreationDate": "2025-03-01T10:00:00.000Z",
    "BlockDeviceMappings": [
        {"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "snap-1", "VolumeSize": 8}}
    ],
    "Tags": [{"Key": "team", "Value": "web"}],
}


def _row(**fields) -> Image:
    """An image row (not saved) as the inventory holds it."""
    values = {
        "image_id": IMAGE_ID,
        "region": REGION,
        "name": "web-1.2",
        "state": "available",
        "deprecation_time": DEPRECATE_AT,
        "public": True,
        "gone_at": None,
    }
    return Image(account=Account(account_id=ACCOUNT_ID), **(values | fields))


def _observed(**fields) -> ObservedImage:
    return replace(ObservedImage.from_row(_row()), **fields)


def test_it_writes_what_the_audit_log_records_of_an_image_as_it_always_did():
    # The before / after of image events recorded before ObservedImage existed.
    assert ObservedImage.from_row(_row()).to_dict() == {
        "image_id": IMAGE_ID,
        "account_id": ACCOUNT_ID,
        "region": REGION,
        "name": "web-1.2",
        "state": "available",
        "deprecation_time": "2031-05-01T12:30:00+00:00",
        "public": True,
        "gone_at": None,
    }
    gone_at = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
    gone = ObservedImage.from_row(_row()).gone_since(gone_at).to_dict()
    assert (gone["state"], gone["gone_at"]) == ("deregistered", "2025-06-01T08:00:00+00:00")
    assert type(gone["state"]) is str  # plain JSON: no enum member reaches the audit log


def test_a_request_binds_the_same_fingerprint_as_before():
    usage = [{"type": "instance", "id": "i-2"}, {"type": "launch_template", "id": "lt-1:3"}]

    observed = observed_state(_row(), usage)

    assert observed == {
        "image_id": IMAGE_ID,
        "state": "available",
        "gone": False,
        "deprecation_time": "2031-05-01T12:30:00+00:00",
        "public": True,
        "usage": ["instance:i-2", "launch_template:lt-1:3"],
    }
    item = {"id": IMAGE_ID, "account_id": ACCOUNT_ID, "region": REGION, "observed": observed}
    parameters = {"deprecate_at": "2031-05-01T12:30:00Z"}
    # The digest the same request had before ObservedImage existed: approvals still match.
    assert compute_fingerprint("deprecate", parameters, (False, ""), [item]) == (
        "a8c3cd746ed6696934b7dfeaec01e00a93e117ab969028f9d4da8501ac129aaf"
    )


def test_it_reads_a_describe_images_entry():
    observed = ObservedImage.from_described(DESCRIBED, ACCOUNT_ID, REGION)

    assert (observed.image_id, observed.account_id, observed.region) == (
        IMAGE_ID,
        ACCOUNT_ID,
        REGION,
    )
    assert (observed.name, observed.state, observed.public) == ("web-1.2", "disabled", False)
    assert observed.deprecation_time == DEPRECATE_AT and not observed.is_gone
    assert observed.described is DESCRIBED
    # What a worker recorded of an image it re-read, before ObservedImage existed.
    assert observed.to_reading() == {
        "state": "disabled",
        "gone": False,
        "deprecation_time": "2031-05-01T12:30:00+00:00",
        "public": False,
    }


@pytest.mark.django_db
def test_a_row_written_from_a_describe_images_entry_reads_back_as_that_entry():
    account = Account.objects.create(account_id=ACCOUNT_ID)
    account_region = AccountRegion.objects.create(account=account, region=REGION)
    upsert_images(account_region, [DESCRIBED], datetime.now(UTC))

    row = Image.objects.select_related("account").get(image_id=IMAGE_ID)

    assert ObservedImage.from_row(row) == ObservedImage.from_described(
        DESCRIBED, ACCOUNT_ID, REGION
    )


def test_a_gone_image_says_only_that_it_is_gone():
    at = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)

    gone = ObservedImage.gone(IMAGE_ID, ACCOUNT_ID, REGION, at)

    assert gone.is_gone and gone.gone_at == at and gone.state == "deregistered"
    assert gone.to_reading() == {"state": "deregistered", "gone": True}
    assert gone.to_dict()["gone_at"] == "2025-06-01T08:00:00+00:00"


def test_an_approval_reads_back_as_the_image_it_was_made_from():
    observed = ObservedImage.from_row(_row())

    approved = ObservedImage.from_approval(observed.to_approval([]), ACCOUNT_ID, REGION)

    assert approved.changes(observed) == []
    assert approved.changes(_observed(state="disabled", public=False)) == ["state", "public"]
    gone = ObservedImage.from_row(_row(gone_at=datetime.now(UTC)))
    assert ObservedImage.from_approval(gone.to_approval([]), ACCOUNT_ID, REGION).is_gone


def test_it_names_the_fields_that_changed():
    observed = _observed()

    assert observed.changes(observed) == []
    assert observed.changes(_observed(name="renamed")) == []  # a name is not a change of state
    assert observed.changes(_observed(state="disabled")) == ["state"]
    assert observed.changes(_observed(public=False)) == ["public"]
    assert observed.changes(_observed(deprecation_time=None)) == ["deprecation_time"]
    later = DEPRECATE_AT + timedelta(minutes=1)
    assert observed.changes(_observed(deprecation_time=later)) == ["deprecation_time"]
    assert observed.changes(observed.gone_since(datetime.now(UTC))) == ["state", "gone"]


def test_deprecation_times_are_compared_to_the_minute():
    # EC2 rounds DeprecateAt to the minute: seconds are how a time was written, not a change.
    observed = _observed()

    assert observed.changes(_observed(deprecation_time=DEPRECATE_AT + timedelta(seconds=20))) == []


def test_the_kinds_of_change_a_signal_announces():
    observed = _observed()
    now = datetime.now(UTC)

    assert signals.changes(None, observed) == [signals.image_appeared]
    assert signals.changes(observed, observed) == []
    assert signals.changes(observed, _observed(state="disabled", deprecation_time=None)) == [
        signals.image_state_changed,
        signals.image_deprecation_changed,
    ]
    assert signals.changes(observed, _observed(public=False)) == [signals.image_sharing_changed]
    assert signals.changes(observed, observed.gone_since(now)) == [signals.image_gone]
    assert signals.changes(observed.gone_since(now), observed) == [signals.image_appeared]
    assert signals.changes(None, observed.gone_since(now)) == []  # still gone: no news


def test_a_change_of_sharing_is_news_only_when_both_sides_know_it():
    private = _observed(public=False, shared_with=())
    shared = _observed(public=False, shared_with=("444455556666",))
    unknown = _observed(public=False, shared_with=None)

    assert signals.changes(private, shared) == [signals.image_sharing_changed]
    assert signals.changes(shared, private) == [signals.image_sharing_changed]
    assert signals.changes(shared, shared) == []
    # Launch permissions never read (a first sighting, or not read with this listing).
    assert signals.changes(unknown, shared) == []
    assert signals.changes(shared, unknown) == []
    # DisableImage removes every launch permission: that is the disable, not a sharing change.
    disabled = _observed(state="disabled", public=False, shared_with=())
    assert signals.changes(_observed(shared_with=("444455556666",)), disabled) == [
        signals.image_state_changed
    ]
    assert shared.to_sharing()["shared_with"] == ["444455556666"]
    assert "shared_with" not in shared.to_dict()  # other events record what they always did
