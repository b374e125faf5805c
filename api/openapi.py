"""Query parameters in the schema, read from the Django forms the pages filter with, so the
documented filters are exactly the accepted ones."""

from __future__ import annotations

from django import forms
from django.core.validators import RegexValidator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter


def _type(field: forms.Field) -> OpenApiTypes:
    if isinstance(field, forms.IntegerField):
        return OpenApiTypes.INT
    if isinstance(field, forms.DateTimeField):
        return OpenApiTypes.DATETIME
    if isinstance(field, forms.DateField):
        return OpenApiTypes.DATE
    return OpenApiTypes.STR


def _pattern(field: forms.Field) -> str | None:
    for validator in field.validators:
        if isinstance(validator, RegexValidator):
            return validator.regex.pattern
    return None


def form_parameters(form: forms.Form) -> list[OpenApiParameter]:
    """One query parameter per form field: its type, choices, bounds and pattern."""
    parameters = []
    for name, field in form.fields.items():
        enum = None
        if isinstance(field, forms.ChoiceField):
            enum = [str(value) for value, _ in field.choices if value != ""]
        parameters.append(
            OpenApiParameter(
                name,
                _type(field),
                OpenApiParameter.QUERY,
                required=False,
                description=str(field.help_text or field.label or ""),
                enum=enum,
                pattern=_pattern(field),
            )
        )
    return parameters
