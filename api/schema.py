"""The OpenAPI schema says what every operation may answer: its own responses and the problems
every API call can get (401, 403, 429; 400 and 404 where input or a path can be wrong)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "The messages of each field that is not valid.",
        },
    },
}
ALWAYS = {
    "400": "Bad input: the problem names the fields.",
    "401": "No token, or a token that is not valid, expired or revoked.",
    "403": "The token's scope or its user's roles do not allow this.",
    "404": "No such resource.",
    "429": "Too many calls with this token; see Retry-After.",
}
WRITES = {"409": "The request is no longer in a state that takes this.", "415": "Not JSON."}


def _problem(description: str) -> dict[str, Any]:
    reference = {"$ref": "#/components/schemas/Problem"}
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": reference}},
    }


def add_problem_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: the Problem schema and the problem responses."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            answers = {**ALWAYS, **(WRITES if method in ("post", "put", "patch") else {})}
            responses = operation.setdefault("responses", {})
            for status, description in answers.items():
                responses.setdefault(status, _problem(description))
    return result


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Documents ``Authorization: Bearer <token>`` (tokens from the API page or
    ``create_api_token``)."""

    target_class = "api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer"}
