"""Inventory applies observations of images and announces them one way, whoever observed them;
no other module writes image rows or sends image signals."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.db import DEFAULT_DB_ALIAS, connections

from amidash.locks import sync_lock_key
from inventory import signals
from inventory.models import AccountRegion, Image
from inventory.observations import ObservedImage
from inventory.services.images import add_images, apply_observation
from lifecycle.models import AuditEvent
from tests.amidash.sandbox.images import OTHER_REGION, REGION, register_image
from tests.factories import sync

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]
PRODUCT = ("amidash", "inventory", "lifecycle")
#: The modules that write image rows and send image signals.
WRITERS = ROOT / "inventory" / "services"
WRITES = {"save", "update", "bulk_create", "bulk_update", "create", "delete"}
WRITES |= {"get_or_create", "update_or_create"}


@pytest.fixture
def announced():
    """The keyword arguments of every images_observed signal sent during the test."""
    sent: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        sent.append(kwargs)

    signals.images_observed.connect(receiver, weak=False)
    yield sent
    signals.images_observed.disconnect(receiver)


def _row(image_id: str) -> Image:
    return Image.objects.select_related("account").get(image_id=image_id)


def _described(aws: Any, image_id: str, region: str = REGION) -> ObservedImage:
    """The image as a worker re-reads it from AWS."""
    data = aws.client("ec2", region).describe_images(
        ImageIds=[image_id], IncludeDeprecated=True, IncludeDisabled=True
    )["Images"][0]
    return ObservedImage.from_described(data, data["OwnerId"], region)


def _events(image_id: str, verb: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(target_type="image", target_id=image_id, verb=verb))


def test_a_workers_reread_is_announced_and_recorded_like_a_syncs(aws, announced):
    by_worker, by_sync = register_image(aws, "web-1"), register_image(aws, "web-2")
    sync()
    for image_id in (by_worker, by_sync):
        aws.client("ec2", REGION).disable_image(ImageId=image_id)
    announced.clear()

    apply_observation(_row(by_worker), _described(aws, by_worker), source="worker")
    run = sync()

    worker, synced = announced  # the sync found the worker's image already as AWS lists it
    assert worker.keys() == synced.keys()
    assert (worker["source"], worker["sync_run"], synced["source"], synced["sync_run"]) == (
        "worker",
        None,
        "sync",
        run,
    )
    for sent, image_id in ((worker, by_worker), (synced, by_sync)):
        (observation,) = sent["observations"]
        assert (observation.signal, observation.image_id) == (signals.image_state_changed, image_id)
        assert (observation.before.state, observation.after.state) == ("available", "disabled")
    (worker_event,) = _events(by_worker, "image.state_changed")
    (sync_event,) = _events(by_sync, "image.state_changed")
    assert worker_event.source == "worker" and sync_event.source == "sync"
    for side in ("before", "after"):
        assert getattr(worker_event, side) == getattr(sync_event, side) | {
            "image_id": by_worker,
            "name": "web-1",
        }
    assert _row(by_worker).state == _row(by_sync).state == "disabled"
    assert run.results.get(region=REGION).images_changed == 1


def test_an_image_found_gone_is_announced_once(aws, announced):
    image_id = register_image(aws, "old-1")
    sync()
    row = _row(image_id)
    aws.client("ec2", REGION).deregister_image(ImageId=image_id)
    first = datetime.now(UTC)

    gone = ObservedImage.gone(image_id, row.account.account_id, REGION, first)
    apply_observation(row, gone, source="worker")
    apply_observation(_row(image_id), found_gone_again(gone), source="worker")

    row = _row(image_id)
    assert (row.state, row.gone_at) == ("deregistered", first)
    assert len(_events(image_id, "image.gone")) == 1
    assert len(_events(image_id, "image.appeared")) == 1  # the first sync's, nothing since
    assert _events(image_id, "image.gone")[0].after["gone_at"] == first.isoformat()


def found_gone_again(observed: ObservedImage) -> ObservedImage:
    """The same image found gone again a little later."""
    return ObservedImage.gone(
        observed.image_id, observed.account_id, observed.region, datetime.now(UTC)
    )


def test_it_adds_a_copy_and_announces_it_appeared(aws, announced):
    register_image(aws, "golden")
    sync()
    copy = register_image(aws, "golden", region=OTHER_REGION)
    account_region = AccountRegion.objects.get(region=OTHER_REGION)

    assert add_images(account_region, [_described(aws, copy, OTHER_REGION)], source="worker")
    run = sync()

    assert _row(copy).account_region == account_region and _row(copy).gone_at is None
    (appeared,) = _events(copy, "image.appeared")
    assert (appeared.source, appeared.target_region, appeared.after["state"]) == (
        "worker",
        OTHER_REGION,
        "available",
    )
    assert run.results.get(region=OTHER_REGION).images_created == 0


def test_it_leaves_a_copy_to_the_sync_writing_its_region(aws):
    register_image(aws, "golden")
    sync()
    copy = register_image(aws, "golden", region=OTHER_REGION)
    account_region = AccountRegion.objects.select_related("account").get(region=OTHER_REGION)
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with other.cursor() as cursor:
            key = sync_lock_key(account_region.account.account_id, OTHER_REGION)
            cursor.execute("SELECT pg_advisory_lock(%s)", [key])
        added = add_images(account_region, [_described(aws, copy, OTHER_REGION)], source="worker")
    finally:
        other.close()

    assert not added
    assert not Image.objects.filter(image_id=copy).exists() and not _events(copy, "image.appeared")


# --- only inventory's services write image rows ------------------------------------------------


def offences(source: str) -> list[str]:
    """Image row writes and image signals sent in ``source``, as ``line: code``, in order."""
    found = []
    for node in ast.walk(ast.parse(source)):
        is_call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        if is_call and (_writes_image(node) or _sends_image_signal(node)):
            found.append((node.lineno, ast.unparse(node)[:80]))
        is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if is_text and _writes_image_table(node.value):
            found.append((node.lineno, "SQL writing inventory_image"))
    return [f"{line}: {code}" for line, code in sorted(found)]


def _writes_image(call: ast.Call) -> bool:
    """``Image.objects....update()``, ``image.save()``, ``item.image.save()`` and the like."""
    receiver = ast.unparse(call.func.value)
    names_image = "Image.objects" in receiver or "Image(" in receiver
    names_image |= receiver.split(".")[-1].lower().endswith("image")
    return call.func.attr in WRITES and names_image


def _sends_image_signal(call: ast.Call) -> bool:
    """``signals.image_gone.send(...)``, or any signal sent with the Image model as sender."""
    if call.func.attr != "send":
        return False
    name = ast.unparse(call.func.value).split(".")[-1]
    sender = ast.unparse(call.args[0]) if call.args else ""
    return name.startswith(("image_", "images_")) or sender == "Image"


def _writes_image_table(text: str) -> bool:
    words = " ".join(text.split()).upper()
    return any(
        f"{verb} INVENTORY_IMAGE " in f"{words} "
        for verb in ("UPDATE", "INSERT INTO", "DELETE FROM", "COPY", "TRUNCATE")
    )


def _product_modules() -> list[Path]:
    modules = [path for name in PRODUCT for path in (ROOT / name).rglob("*.py")]
    return [
        path for path in modules if "migrations" not in path.parts and WRITERS not in path.parents
    ]


def test_no_module_outside_inventorys_services_writes_image_rows_or_sends_image_signals():
    found = {str(path.relative_to(ROOT)): offences(path.read_text()) for path in _product_modules()}

    assert {path: lines for path, lines in found.items() if lines} == {}
    assert len(found) > 50  # the product was read, not an empty folder


def test_the_check_finds_writes_and_signals_wherever_they_are():
    source = """
image.save(update_fields=["state"])
item.image.save()
Image.objects.filter(pk=1).update(state="disabled")
Image.objects.bulk_create(rows)
inventory_signals.image_gone.send(Image, image=image)
for signal in changes: signal.send(Image, image=image)
cursor.execute("UPDATE inventory_image SET state = 'x'")
usage.save()
ImageUsage.objects.filter(pk=1).update(detail={})
cursor.execute("UPDATE inventory_imageusage SET image_id = NULL")
"""

    assert [line.split(":")[0] for line in offences(source)] == [
        "2", "3", "4", "5", "6", "7", "8"
    ]  # fmt: skip
