"""An observed image: what amidash saw of one AMI at one moment, as one typed value.

An image is observed by a sync's listing, by a worker re-reading it around a lifecycle action, or
found gone. The domain signals' before / after (and so the audit log), what a request binds into
its fingerprint and what a worker compares before it acts all read this one type, so which
fields matter, how they are written down and when two observations differ is decided here once.

Its dictionaries keep the JSON already stored: audit events and approved requests written before
this type existed still verify, and their fingerprints still compare equal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from inventory.choices import ImageState
from inventory.services.listing import parse_time
from inventory.services.upsert import Listed, listed

if TYPE_CHECKING:
    from inventory.models import Image

#: The fields two observations are compared on (see ``ObservedImage.changes``), in this order.
COMPARED = ("state", "deprecation_time", "public", "gone")
_DEREGISTERED = ImageState.DEREGISTERED.value
#: When an approved image went away: an approval records that it was gone, not since when.
_UNKNOWN_SINCE = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ObservedImage:
    """One image as observed: its identity and the fields whose change is news.

    ``described`` is the DescribeImages entry it was read from, when it was: what the inventory
    writes into the image's row. It takes no part in comparisons. ``shared_with`` is who the
    image is shared with (account ids, organization and OU ARNs, sorted; ``public`` says whether
    everyone is), when known: DescribeImages does not say, so an image read from a listing knows
    it only when its launch permissions were read too (see ``sharing_changed``).
    """

    image_id: str
    account_id: str
    region: str
    name: str
    state: str
    deprecation_time: datetime | None
    public: bool
    gone_at: datetime | None = None
    described: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    shared_with: tuple[str, ...] | None = field(default=None, compare=False)

    @classmethod
    def from_row(cls, image: Image) -> ObservedImage:
        """The image as its inventory row says (``image.account`` is read); who it is shared
        with is unknown until its launch permissions were first read."""
        checked = image.launch_permissions_checked_at is not None
        return cls(
            image.image_id,
            image.account.account_id,
            image.region,
            image.name,
            image.state,
            image.deprecation_time,
            image.public,
            image.gone_at,
            shared_with=tuple(sorted(image.shared_with or ())) if checked else None,
        )

    @classmethod
    def from_described(cls, data: dict[str, Any], account_id: str, region: str) -> ObservedImage:
        """The image as a DescribeImages entry says, read as the sync reads it (``listed``).

        Raises UnreadableImage, naming the image, for an entry that is not an EC2 Image shape.
        """
        values = listed(data)
        return cls.from_listed(data["ImageId"], account_id, region, values, described=data)

    @classmethod
    def from_listed(
        cls,
        image_id: str,
        account_id: str,
        region: str,
        values: Listed,
        described: dict[str, Any] | None = None,
        shared_with: list[str] | tuple[str, ...] | None = None,
    ) -> ObservedImage:
        """The image from what a listing says of it (a sync has these for every image), and
        who it is shared with when that is known."""
        return cls(
            image_id,
            account_id,
            region,
            values.name,
            values.state,
            values.deprecation_time,
            values.public,
            None,
            described,
            None if shared_with is None else tuple(sorted(shared_with)),
        )

    @classmethod
    def gone(cls, image_id: str, account_id: str, region: str, at: datetime) -> ObservedImage:
        """An image AWS did not list at ``at``: nothing else of it is known."""
        return cls(image_id, account_id, region, "", _DEREGISTERED, None, False, at)

    @classmethod
    def from_approval(
        cls, approved: Mapping[str, Any], account_id: str, region: str
    ) -> ObservedImage:
        """The image as a request approved it: read back from ``to_approval``'s dictionary."""
        gone_at = _UNKNOWN_SINCE if approved.get("gone") else None
        return cls(
            str(approved.get("image_id", "")),
            account_id,
            region,
            "",
            str(approved.get("state", "")),
            parse_time(approved.get("deprecation_time")),
            bool(approved.get("public")),
            gone_at,
        )

    @property
    def is_gone(self) -> bool:
        return self.gone_at is not None

    def gone_since(self, at: datetime) -> ObservedImage:
        """This image, no longer listed since ``at`` (or since it was first found gone); what
        was last known of it stays."""
        return replace(self, state=_DEREGISTERED, gone_at=self.gone_at or at, described=None)

    def changes(self, later: ObservedImage) -> list[str]:
        """The COMPARED fields in which ``later`` differs from this observation.

        Deprecation times are compared to the minute: EC2 keeps them to the minute, so a
        difference below it is a difference of how a time was written, not of the image.
        """
        return [name for name in COMPARED if _compared(self, name) != _compared(later, name)]

    def sharing_changed(self, later: ObservedImage) -> bool:
        """Whether who may launch the image changed from this observation to ``later``: made
        public or private, or shared with or unshared from accounts (compared only when both
        observations know them).

        Not when ``later`` is the image disabled (DisableImage removes every launch
        permission: that is the disable, which is its own change) or gone.
        """
        if self.is_gone or later.is_gone:
            return False
        if later.state == ImageState.DISABLED and self.state != ImageState.DISABLED:
            return False
        if self.public != later.public:
            return True
        known = self.shared_with is not None and later.shared_with is not None
        return known and self.shared_with != later.shared_with

    def to_sharing(self) -> dict[str, Any]:
        """What a sharing change records of each side: the image, whether it is public and who
        it is shared with (sorted)."""
        return {**self.to_dict(), "shared_with": list(self.shared_with or ())}

    def to_dict(self) -> dict[str, Any]:
        """What domain signals carry as ``before`` / ``after``: the audit log's image events."""
        return {
            "image_id": self.image_id,
            "account_id": self.account_id,
            "region": self.region,
            "name": self.name,
            "state": str(self.state),
            "deprecation_time": _iso(self.deprecation_time),
            "public": self.public,
            "gone_at": _iso(self.gone_at),
        }

    def to_approval(self, usage: Iterable[str]) -> dict[str, Any]:
        """What a request item binds into the request's fingerprint: the image as requested
        and what used it then (``type:id`` each)."""
        return {
            "image_id": self.image_id,
            "state": str(self.state),
            "gone": self.is_gone,
            "deprecation_time": _iso(self.deprecation_time),
            "public": self.public,
            "usage": sorted(usage),
        }

    def to_reading(self) -> dict[str, Any]:
        """What a worker records of an image it re-read (a stale item's ``now``, a reconciled
        item's ``observed``); of a gone image nothing but that it is gone."""
        if self.is_gone:
            return {"state": _DEREGISTERED, "gone": True}
        return {
            "state": str(self.state),
            "gone": False,
            "deprecation_time": _iso(self.deprecation_time),
            "public": self.public,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _compared(image: ObservedImage, name: str) -> Any:
    if name == "gone":
        return image.is_gone
    if name == "deprecation_time":
        moment = image.deprecation_time
        return moment.replace(second=0, microsecond=0) if moment else None
    return getattr(image, name)
