"""Change Allowed AMIs: the state and criteria of one account+Region's setting.

Unlike the other actions it names no image: its one item is the account+Region. Execution
replaces the criteria (ReplaceImageCriteriaInAllowedImagesSettings), then sets the state
(EnableAllowedImagesSettings or DisableAllowedImagesSettings), under the same claim, lease and
pacing as any action; it reads GetAllowedImagesSettings before (drift) and after (the effect),
and the inventory records the setting it read. A setting managed by a declarative policy cannot
be changed by the account: such a request is refused, and one approved before the policy took
over goes stale instead of calling AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from inventory.allowed_images import CriteriaError, clean_criteria
from inventory.choices import AllowedImagesManagedBy, AllowedImagesState
from lifecycle.actions.base import ActionSpec, AwsCall
from lifecycle.choices import LifecycleAction
from lifecycle.exceptions import RequestError

if TYPE_CHECKING:
    from inventory.models import Image
    from inventory.services.aws import AwsSession
    from lifecycle.models import RequestItem

POLICY_MANAGED = (
    "Allowed AMIs of this account and Region are managed by a declarative policy: the account "
    "cannot change them (change the policy in AWS Organizations instead)"
)


@dataclass(frozen=True)
class SettingObservation:
    """GetAllowedImagesSettings as AWS answered it now."""

    answer: dict[str, Any]

    def state(self) -> dict[str, Any]:
        return setting_state(self.answer)


def setting_state(answer: dict[str, Any]) -> dict[str, Any]:
    """The compared and recorded parts of a GetAllowedImagesSettings answer."""
    return {
        "state": answer.get("State", AllowedImagesState.DISABLED),
        "criteria": answer.get("ImageCriteria", []),
        "managed_by": answer.get("ManagedBy", AllowedImagesManagedBy.ACCOUNT),
    }


def describe_criterion(criterion: dict[str, Any]) -> str:
    parts = []
    if criterion.get("ImageProviders"):
        parts.append("providers " + ", ".join(criterion["ImageProviders"]))
    if criterion.get("ImageNames"):
        parts.append("names " + ", ".join(criterion["ImageNames"]))
    created = (criterion.get("CreationDateCondition") or {}).get("MaximumDaysSinceCreated")
    if created is not None:
        parts.append(f"created at most {created} days ago")
    deprecated = (criterion.get("DeprecationTimeCondition") or {}).get("MaximumDaysSinceDeprecated")
    if deprecated is not None:
        parts.append(f"deprecated at most {deprecated} days ago")
    return "; ".join(parts) or "any image"


class AllowedImages(ActionSpec):
    """One account+Region's Allowed AMIs state and criteria."""

    action = LifecycleAction.ALLOWED_IMAGES
    undo = "Another Allowed AMIs change back to the previous state and criteria"
    operation = "ReplaceImageCriteriaInAllowedImagesSettings"
    targets_images = False

    def applies_to(self, image: Image) -> bool:
        return False

    def refusal(self, image: Image) -> str:
        return "an Allowed AMIs change names an account and Region, not images"

    def clean_parameters(self, parameters: dict[str, Any], now: datetime) -> dict[str, Any]:
        state = parameters.get("state")
        if state not in AllowedImagesState.values:
            raise RequestError("Choose disabled, audit mode or enabled.", "state")
        try:
            criteria = clean_criteria(parameters.get("criteria", []))
        except CriteriaError as error:
            raise RequestError(" ".join(error.messages), "criteria") from None
        return {"state": state, "criteria": criteria}

    def describe_parameters(self, parameters: dict[str, Any]) -> list[tuple[str, str]]:
        lines = [("State", AllowedImagesState(parameters["state"]).label)]
        criteria = parameters.get("criteria") or []
        lines += [
            (f"Criterion {n}", describe_criterion(c)) for n, c in enumerate(criteria, start=1)
        ]
        return lines or [("Criteria", "none: only the account's own images")]

    def calls(self, item: RequestItem, parameters: dict[str, Any]) -> list[AwsCall]:
        replace = AwsCall(
            self.service, item.region, self.operation, {"ImageCriteria": parameters["criteria"]}
        )
        if parameters["state"] == AllowedImagesState.DISABLED:
            state = AwsCall(self.service, item.region, "DisableAllowedImagesSettings", {})
        else:
            state = AwsCall(
                self.service,
                item.region,
                "EnableAllowedImagesSettings",
                {"AllowedImagesSettingsState": parameters["state"]},
            )
        return [replace, state]

    def answer(self, answers: list[tuple[AwsCall, dict[str, Any]]]) -> dict[str, Any]:
        return {call.operation: answer for call, answer in answers}

    def drift(self, approved: dict[str, Any], observation: Any, override: bool) -> str:
        now = observation.state()
        if now["managed_by"] == AllowedImagesManagedBy.DECLARATIVE_POLICY:
            return POLICY_MANAGED
        if now["state"] != approved.get("state"):
            return f"the state changed from {approved.get('state')} to {now['state']}"
        if now["criteria"] != approved.get("criteria"):
            return "the criteria changed since the request"
        return ""

    def effect_visible(self, state: dict[str, Any], parameters: dict[str, Any]) -> bool:
        return state["state"] == parameters["state"] and state["criteria"] == parameters["criteria"]

    def observe(self, session: AwsSession, item: RequestItem) -> SettingObservation:
        ec2 = session.client("ec2", item.region)
        return SettingObservation(ec2.get_allowed_images_settings())

    def record(self, item: RequestItem, observation: Any, action: str) -> None:
        from inventory.models import AccountRegion
        from inventory.services.allowed_images import save_setting

        account_region = AccountRegion.objects.filter(
            account__account_id=item.account_id, region=item.region
        ).first()
        if account_region is not None:
            save_setting(account_region, observation.answer, timezone.now())
