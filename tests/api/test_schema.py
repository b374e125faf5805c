"""Every operation of the OpenAPI schema, fuzzed against a live server over a small estate.

Schemathesis generates a bounded number of cases per operation from the schema the API itself
serves, sends them with an admin's token that has every scope, and checks that nothing answers
5xx and that every answer has a documented status, content type and body shape.
"""

from __future__ import annotations

import datetime

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import token_for
from tests.factories import (
    ask,
    create_audit_events,
    create_image,
    create_image_usage,
    create_policy,
    create_sync_run,
    create_user,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 8


@pytest.fixture
def fuzz_token(transactional_db) -> str:
    """An estate with one of everything, and a token of an admin with every scope."""
    from django.utils import timezone

    admin = create_user("fuzzadmin", superuser=True)
    requester = create_user("fuzzrita", "Requester")
    used = create_image(tags={"team": "web"})
    create_image_usage(used)
    create_image(state="disabled")
    soon = (timezone.now() + datetime.timedelta(days=30)).isoformat()
    ask(requester, "deprecate", [create_image().image_id], parameters={"deprecate_at": soon})
    create_policy("fuzz")
    create_sync_run()
    create_audit_events(3)
    return token_for(admin, "read,request,approve")


def _served_schema(base_url: str, token: str) -> schemathesis.BaseSchema:
    response = requests.get(
        f"{base_url}/api/schema/",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=30,
    )
    response.raise_for_status()
    return schemathesis.openapi.from_dict(response.json())


def _fuzz(operation: schemathesis.APIOperation, base_url: str, token: str) -> None:
    """Run the bounded examples of one operation; raises on the first answer off the schema."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        phases=[Phase.explicit, Phase.generate],
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
        )

    run()


def test_every_operation_answers_as_documented(live_server, fuzz_token):
    schema = _served_schema(live_server.url, fuzz_token)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 16
    for operation in operations:
        _fuzz(operation, live_server.url, fuzz_token)
