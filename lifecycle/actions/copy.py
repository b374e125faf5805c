"""Copy: CopyImage into each named Region (the client's Region is the destination)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django import forms

from amidash.fields import TextField, is_region_name
from lifecycle.actions.base import ActionSpec, AwsCall
from lifecycle.choices import LifecycleAction
from lifecycle.exceptions import RequestError

if TYPE_CHECKING:
    from inventory.models import Image
    from lifecycle.models import RequestItem

REGION_HELP = "Comma-separated Region names, e.g. eu-west-1, us-west-2."


def client_token(item: RequestItem, region: str) -> str:
    """CopyImage's idempotency key for one item and target Region (at most 64 ASCII chars):
    the same token with the same parameters answers the same ImageId and copies nothing twice."""
    return hashlib.sha256(f"amidash:item:{item.pk}:{region}".encode()).hexdigest()[:64]


class Copy(ActionSpec):
    """One call per target Region, each paced in that Region; the answer maps Region to the
    copy's id. The copies are confirmed by those ids, not by re-reading the source; each call
    carries the item's ClientToken for its Region, so repeating them finds the copies made."""

    action = LifecycleAction.COPY
    undo = "Deregister the copies"
    operation = "CopyImage"
    refill_per_second = 1.0
    confirmed_by_reading = False
    repeatable = True

    def applies_to(self, image: Image) -> bool:
        return not image.is_gone and not image.is_disabled

    def form_fields(self) -> dict[str, forms.Field]:
        return {
            "regions": TextField(
                required=False, max_length=1000, help_text=REGION_HELP, label="Copy to Regions"
            )
        }

    def form_parameters(self, cleaned_data: dict[str, Any]) -> dict[str, Any]:
        text = (cleaned_data.get("regions") or "").replace(" ", ",")
        return {"regions": [region for region in text.split(",") if region]}

    def clean_parameters(self, parameters: dict[str, Any], now: datetime) -> dict[str, Any]:
        regions = sorted(
            {str(r).strip() for r in parameters.get("regions") or [] if str(r).strip()}
        )
        if not regions:
            raise RequestError("Name at least one Region to copy to.", "regions")
        bad = [region for region in regions if not is_region_name(region)]
        if bad:
            raise RequestError(f"Not a Region name: {', '.join(bad)}.", "regions")
        return {"regions": regions}

    def describe_parameters(self, parameters: dict[str, Any]) -> list[tuple[str, str]]:
        return [("Copy to", ", ".join(parameters.get("regions") or []))]

    def calls(self, item: RequestItem, parameters: dict[str, Any]) -> list[AwsCall]:
        arguments = {
            "SourceImageId": item.ami_id,
            "SourceRegion": item.region,
            "Name": item.image.name or item.ami_id,
            "Description": f"Copy of {item.ami_id} from {item.region} (request #{item.request_id})",
        }
        return [
            AwsCall(
                self.service,
                region,
                self.operation,
                arguments | {"ClientToken": client_token(item, region)},
            )
            for region in parameters["regions"]
        ]

    def answer(self, answers: list[tuple[AwsCall, dict[str, Any]]]) -> dict[str, Any]:
        return {"Copies": {call.region: answer["ImageId"] for call, answer in answers}}

    def effect_visible(self, state: dict[str, Any], parameters: dict[str, Any]) -> bool:
        return True  # the copies' ids in AWS's answers are the confirmation
