"""Audit verbs come only from ``AuditVerb``: no product module spells a verb as a string or
builds one from a status (``f"request.{status}"``), and every event a flow records is a member."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings

from lifecycle.models import AuditEvent, AuditSource, AuditVerb
from lifecycle.services.execution import execute_request
from lifecycle.services.requests import cancel_request, expire_requests, reject_request
from tests.amidash.sandbox.images import register_image
from tests.factories import approve, ask, sync

PRODUCT_FOLDERS = ("amidash", "inventory", "lifecycle", "bench")
#: The one module allowed to spell the verbs: where ``AuditVerb`` defines them.
VOCABULARY = Path("lifecycle", "models", "audit.py")
NAMESPACE_PREFIXES = {f"{verb.split('.', 1)[0]}." for verb in AuditVerb.values}


def spelt_verbs(source: str) -> list[str]:
    """String constants in ``source`` that are an audit verb or a verb's namespace to build on
    (the ``"request."`` of ``f"request.{status}"`` or ``"request." + status``)."""
    return [
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and (node.value in AuditVerb.values or node.value in NAMESPACE_PREFIXES)
    ]


def product_modules() -> Iterator[Path]:
    root = Path(settings.BASE_DIR)
    for folder in PRODUCT_FOLDERS:
        for path in sorted((root / folder).rglob("*.py")):
            relative = path.relative_to(root)
            if "migrations" not in relative.parts and relative != VOCABULARY:
                yield path


def test_it_finds_verbs_spelt_or_built_from_strings() -> None:
    source = 'record(f"request.{status}")\nrecord("item." + kind)\nrecord("image.gone")\n'
    assert sorted(spelt_verbs(source)) == ["image.gone", "item.", "request."]
    assert spelt_verbs('record(AuditVerb.IMAGE_GONE, correlation_id=f"request:{pk}")') == []


def test_no_product_module_spells_an_audit_verb() -> None:
    spelt = {
        str(path.relative_to(settings.BASE_DIR)): found
        for path in product_modules()
        if (found := spelt_verbs(path.read_text()))
    }
    assert spelt == {}


def test_every_event_of_a_request_s_life_is_an_audit_verb(aws, requester, approver) -> None:
    started = datetime.now(UTC)
    images = [register_image(aws, name) for name in ("one", "two", "three", "four")]
    sync()
    when = started + timedelta(days=9)
    executed = ask(requester, "deprecate", [images[0]], parameters={"deprecate_at": when})
    approve(approver, executed)
    execute_request(executed.pk, sleep=lambda seconds: None)
    rejected = ask(requester, "disable", [images[1]])
    reject_request(approver, rejected.pk, rejected.fingerprint, "still needed", AuditSource.WEB)
    cancelled = ask(requester, "disable", [images[2]])
    cancel_request(requester, cancelled.pk, "not needed", AuditSource.WEB)
    ask(requester, "disable", [images[3]])
    expire_requests(started + timedelta(days=30))
    verbs = set(AuditEvent.objects.filter(occurred_at__gte=started).values_list("verb", flat=True))
    closed = {AuditVerb.REQUEST_REJECTED, AuditVerb.REQUEST_CANCELLED, AuditVerb.REQUEST_EXPIRED}
    assert closed | {AuditVerb.ITEM_EXECUTED, AuditVerb.IMAGE_APPEARED} <= verbs
    assert verbs <= set(AuditVerb.values)
