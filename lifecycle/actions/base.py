"""What one lifecycle action is, said once: ``ActionSpec``.

A spec holds everything that differs between actions: its label, which images it applies to,
its parameters (their form fields and checks), whether an image in use refuses it (the guard of
invariant 5 in docs/architecture.md), the AWS call it makes and the pacing bucket that call draws
from, which observed changes count as drift, how its effect is confirmed and what undoes it.
Forms, the preview, execution and the image page ask the spec in ``lifecycle.actions.ACTIONS``;
none of them asks which action a request names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from botocore import xform_name
from django import forms

from inventory.observations import ObservedImage
from inventory.services.listing import parse_time

if TYPE_CHECKING:
    from inventory.models import Image
    from inventory.services.aws import AwsSession
    from lifecycle.models import RequestItem
    from lifecycle.services.execution import Observation
    from lifecycle.services.preview import ImagePreview

#: The form fields of the in-use override; the request page shows them for guarded actions.
OVERRIDE_FIELDS = ("override_in_use", "override_reason")

#: Observed fields compared with what was approved, and how a drift names them.
COMPARED_FIELDS = (("state", "state"), ("deprecation_time", "deprecation time"))


def usage_key(usage_type: str, resource_id: str) -> str:
    """Usage compared by kind and resource (a template's version does not matter)."""
    return f"{usage_type}:{resource_id.split(':')[0]}"


def minute(value: Any) -> Any:
    """Times compared to the minute (AWS rounds deprecation times to it); other values as is."""
    if isinstance(value, str) and "T" in value:
        moment = parse_time(value)
        return moment.replace(second=0, microsecond=0) if moment else value
    return value


@dataclass(frozen=True)
class AwsCall:
    """One mutating call: the client's service and Region, the API operation and its arguments.

    The operation also names the account+Region pacing bucket the call draws from.
    """

    service: str
    region: str
    operation: str
    arguments: dict[str, Any]

    @property
    def method(self) -> str:
        """The boto3 client method of the operation (``DisableImage`` -> ``disable_image``)."""
        return xform_name(self.operation)


class ActionSpec:
    """One lifecycle action; subclasses set the class attributes and override what differs.

    The defaults describe the common case: an image that still exists, no parameters, no guard,
    one EC2 call on the image in its own Region, and any change since approval is drift.
    """

    #: The stored value of the action (a ``LifecycleAction`` member for the built-in ones).
    action: ClassVar[str]
    #: Its label; a ``LifecycleAction`` member brings its own.
    title: ClassVar[str] = ""
    #: What undoes the action, shown in the preview.
    undo: ClassVar[str]
    #: The EC2 API the action calls; it names the pacing bucket too.
    operation: ClassVar[str]
    service: ClassVar[str] = "ec2"
    #: EC2's own refill rate per second for ``operation`` (the pacing never goes above it).
    refill_per_second: ClassVar[float] = 5.0
    #: Refused for an image in use unless the request carries an override (invariant 5).
    guarded: ClassVar[bool] = False
    #: The preview reads the Recycle Bin's retention rules (what deregistering would keep).
    reads_recycle_bin: ClassVar[bool] = False
    #: The preview names the image's current descendants (copies of it, and copies of those).
    warns_of_descendants: ClassVar[bool] = False
    #: AWS removes every launch permission of the image (the inventory forgets its sharing).
    removes_launch_permissions: ClassVar[bool] = False
    #: Re-reading the image shows whether the action took effect, so an interrupted item can be
    #: settled by reading AWS.
    confirmed_by_reading: ClassVar[bool] = True
    #: The calls carry an idempotency token (same token and parameters: same answer, nothing
    #: done twice), so an interrupted item is finished by repeating them.
    repeatable: ClassVar[bool] = False
    #: What an item names: an image (the default), or with False one account+Region's setting
    #: (no image; the spec then reads and records the setting itself).
    targets_images: ClassVar[bool] = True

    @property
    def key(self) -> str:
        return str(self.action)

    @property
    def target_noun(self) -> str:
        """What one item names, as the request pages say it."""
        return "image" if self.targets_images else "setting"

    @property
    def label(self) -> str:
        return self.title or str(getattr(self.action, "label", self.action))

    @property
    def danger(self) -> bool:
        """Shown as a dangerous button: the guarded actions stop an image being launched."""
        return self.guarded

    # --- which images -------------------------------------------------------------------------

    def applies_to(self, image: Image) -> bool:
        """Whether the image page offers the action for the image as last observed."""
        return not image.is_gone

    def refusal(self, image: Image) -> str:
        """Why a request may not name the image at all, or "" (the preview blocks on it)."""
        return "the image is gone (deregistered)" if image.is_gone else ""

    def warnings(self, preview: ImagePreview) -> list[str]:
        """What the preview warns about on one image besides its usage."""
        return []

    # --- parameters ---------------------------------------------------------------------------

    def form_fields(self) -> dict[str, forms.Field]:
        """The request page's fields for the parameters, in the order shown."""
        return {}

    def form_parameters(self, cleaned_data: dict[str, Any]) -> dict[str, Any]:
        """The parameters as the form read them, before ``clean_parameters`` checks them."""
        return {name: cleaned_data.get(name) for name in self.form_fields()}

    def shown_fields(self) -> tuple[str, ...]:
        """The action's own fields on the request page: parameters, then the override."""
        return (*self.form_fields(), *(OVERRIDE_FIELDS if self.guarded else ()))

    def clean_parameters(self, parameters: dict[str, Any], now: datetime) -> dict[str, Any]:
        """The parameters checked against AWS's limits, JSON-ready; raises ``RequestError``."""
        return {}

    def describe_parameters(self, parameters: dict[str, Any]) -> list[tuple[str, str]]:
        """The approved parameters as (label, text) lines for the request page."""
        return []

    # --- execution ----------------------------------------------------------------------------

    def arguments(self, item: RequestItem, parameters: dict[str, Any]) -> dict[str, Any]:
        """The arguments of the call on the item's image."""
        return {"ImageId": item.ami_id}

    def calls(self, item: RequestItem, parameters: dict[str, Any]) -> list[AwsCall]:
        """The mutating calls one item makes, in order."""
        arguments = self.arguments(item, parameters)
        return [AwsCall(self.service, item.region, self.operation, arguments)]

    def answer(self, answers: list[tuple[AwsCall, dict[str, Any]]]) -> dict[str, Any]:
        """What is recorded of AWS's answers to ``calls``."""
        return answers[0][1]

    def drift(self, approved: dict[str, Any], observation: Observation, override: bool) -> str:
        """Why the image is no longer what was approved (invariant 3), or "" when it still is.

        Any change of state, deprecation time or exposure, and any new user, is drift; a
        guarded action also refuses an image in use, or whose use by other accounts is unknown,
        without the request's override.
        """
        now = observation.image
        if now.is_gone:
            return "the image is gone"
        changed = ObservedImage.from_approval(approved, now.account_id, now.region).changes(now)
        current = observation.state()
        for key, label in COMPARED_FIELDS:
            if key in changed:
                return f"{label} changed from {approved.get(key)} to {current.get(key)}"
        if "public" in changed:
            return "public exposure changed"
        drift = self.usage_drift(approved, observation.usage, override)
        if not drift and self.guarded and observation.usage_unknown and not override:
            return "usage by other accounts unknown (no recent usage report), and no override"
        return drift

    def usage_drift(self, approved: dict[str, Any], usage: set[str], override: bool) -> str:
        """New users since approval, or use that the guard refuses."""
        approved_usage = {usage_key(*u.split(":", 1)) for u in approved.get("usage", [])}
        new_users = sorted(usage - approved_usage)
        if new_users:
            return f"newly in use by {', '.join(new_users[:5])}"
        if self.guarded and usage and not override:
            return "in use, and the request carries no override"
        return ""

    def effect_visible(self, state: dict[str, Any], parameters: dict[str, Any]) -> bool:
        """Does the image as AWS shows it now (``Observation.state()``) carry the effect?"""
        raise NotImplementedError

    # --- reading and recording what the item targets ----------------------------------------

    def observe(self, session: AwsSession, item: RequestItem) -> Any:
        """What AWS shows now of the item's target (an ``Observation`` of its image)."""
        from lifecycle.services.execution import observe_or_gone

        return observe_or_gone(session, item.region, item.ami_id)

    def record(self, item: RequestItem, observation: Any, action: str) -> None:
        """Have the inventory record what AWS now shows of the item's target."""
        from lifecycle.services.execution import store_observation

        store_observation(item.image, observation, action)
