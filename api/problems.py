"""Every error of the API is an RFC 9457 problem: ``application/problem+json`` with type,
title, status and detail, and ``errors`` naming the fields of a 400 (invariant 7: bad input gets
a clear message and a 4xx, never a 500).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

PROBLEM_TYPE = "application/problem+json"


class BadInput(exceptions.ValidationError):
    """Input that names fields: ``errors`` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]] | str, field: str | None = None) -> None:
        if isinstance(errors, str):
            errors = {field or "non_field_errors": [errors]}
        super().__init__(errors)


def problem(status: int, detail: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return body


def _field_errors(data: Any) -> dict[str, list[str]]:
    if isinstance(data, dict):
        return {str(key): _messages(value) for key, value in data.items()}
    return {"non_field_errors": _messages(data)}


def _messages(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    if isinstance(value, dict):
        return [f"{key}: {'; '.join(_messages(item))}" for key, item in value.items()]
    return [str(value)]


def _detail(errors: dict[str, list[str]]) -> str:
    return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, then the answer rewritten as a problem."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        body = problem(response.status_code, _detail(errors), errors)
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        body = problem(response.status_code, str(detail) or HTTPStatus(response.status_code).phrase)
    response.data = body
    response.content_type = PROBLEM_TYPE
    return response


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """What an unknown path under /api/ answers (instead of the HTML 404 page)."""
    return JsonResponse(
        problem(404, f"No API resource at {request.path[:200]}."),
        status=404,
        content_type=PROBLEM_TYPE,
    )
