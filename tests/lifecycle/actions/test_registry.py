"""The registry of action specs: every stored action has one, and the pages show what it says."""

from __future__ import annotations

from django.urls import reverse

from amidash.roles import Role
from inventory.registry import image_actions
from lifecycle.actions import ACTIONS, ActionSpec
from lifecycle.choices import LifecycleAction
from lifecycle.services.pacing import rate_for
from tests.amidash.sandbox.images import register_image
from tests.factories import create_user, image, signed_in, sync


def test_every_action_has_exactly_one_spec() -> None:
    assert list(ACTIONS) == list(LifecycleAction.values)
    for key, spec in ACTIONS.items():
        assert isinstance(spec, ActionSpec) and spec.key == key
        assert spec.label == LifecycleAction(key).label and spec.undo and spec.operation


def test_each_module_of_the_package_is_one_action_and_requests_store_exactly_those() -> None:
    import pkgutil

    import lifecycle.actions
    from lifecycle.models import LifecycleRequest

    modules = {m.name for m in pkgutil.iter_modules(lifecycle.actions.__path__)} - {"base"}
    assert {type(spec).__module__.rsplit(".", 1)[1] for spec in ACTIONS.values()} == modules
    assert len(ACTIONS) == len(modules)
    stored = LifecycleRequest._meta.get_field("action").choices
    assert list(stored) == [(spec.key, spec.label) for spec in ACTIONS.values()]


def test_parameter_fields_of_different_actions_never_share_a_name() -> None:
    names = [name for spec in ACTIONS.values() for name in spec.form_fields()]
    assert len(names) == len(set(names))


def test_pacing_never_goes_above_the_refill_each_spec_states(settings) -> None:
    settings.LIFECYCLE_MUTATIONS_PER_SECOND = 1000.0
    for spec in ACTIONS.values():
        assert rate_for(spec.operation).per_second == spec.refill_per_second


def test_the_image_page_offers_what_the_specs_say(aws) -> None:
    image_id = register_image(aws, "web")
    sync()
    row = image(image_id)
    requester = signed_in(create_user("rex", Role.REQUESTER))
    page = requester.get(reverse("inventory:image_detail", args=[row.pk])).content.decode()
    for spec in ACTIONS.values():
        button = f'value="{spec.key}" class="{"danger" if spec.danger else ""}">{spec.label}…'
        assert (button in page) == spec.applies_to(row), spec.key
    on_images = [key for key, spec in ACTIONS.items() if spec.targets_images]
    assert [action.key for action in image_actions] == on_images


def test_the_request_page_shows_the_fields_of_the_chosen_action(aws) -> None:
    image_id = register_image(aws, "web")
    sync()
    requester = signed_in(create_user("rex", Role.REQUESTER))
    url = reverse("lifecycle:request_create")
    for spec in ACTIONS.values():
        page = requester.get(url, {"action": spec.key, "image": image(image_id).pk})
        body = page.content.decode()
        assert f"Request: {spec.label} of 1 image" in body
        for name in ("deprecate_at", "delete_snapshots", "regions", "override_in_use"):
            assert (f'name="{name}"' in body) == (name in spec.shown_fields()), (spec.key, name)
