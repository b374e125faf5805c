"""The kinds of value amidash accepts from outside, each parsed in one place.

Query strings, form posts, htmx parameters, path parameters and command-line arguments all
arrive as arbitrary text. Every page, form and command parses them with the field types here,
so a value is accepted or refused the same way on every route, and a refusal is a message, never
an exception. The edges matter: Python's ``int()`` and ``strptime`` accept Unicode digits
(``"²"``, ``"٣"``) that are not numbers anyone typed, PostgreSQL refuses integers beyond
bigint and strings carrying NUL, and date arithmetic overflows at the end of the calendar. So
numbers are ASCII digits within bigint, dates lie within a sane range (with room for "the day
after"), free text is length-bounded without control characters, and lists are bounded too.
"""

from __future__ import annotations

import argparse
import datetime
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.deconstruct import deconstructible

BIGINT_MAX = 2**63 - 1  # PostgreSQL bigint, the widest integer column
_BIGINT_DIGITS = len(str(BIGINT_MAX))
EARLIEST_DATE = datetime.date(1970, 1, 1)
LATEST_DATE = datetime.date(2999, 12, 31)  # a day short of year 3000: "until + 1 day" fits
MAX_TEMPORAL_TEXT = 40  # the longest date or time anyone writes, with zone and fraction
DATE_FORMATS = ["%Y-%m-%d"]
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]
LINE_BREAKS = frozenset("\t\n\r")

# \A and \Z (not ^ and $, which allow a trailing newline) and [0-9] (not \d, which matches any
# Unicode digit): each pattern matches exactly what AWS writes.
account_id_validator = RegexValidator(
    r"\A[0-9]{12}\Z", "An AWS account id is exactly 12 digits.", code="invalid_account"
)
region_validator = RegexValidator(
    r"\A[a-z]{2}(-[a-z]+)+-[0-9]+\Z", "Not a Region name (us-east-1).", code="invalid_region"
)
ami_id_validator = RegexValidator(
    r"\Aami-[0-9a-f]{8,17}\Z", "An image id looks like ami-0abc…", code="invalid_ami"
)
_INTEGER = RegexValidator(r"\A-?[0-9]+\Z")


def is_account_id(value: str) -> bool:
    return _passes(account_id_validator, value)


def is_region_name(value: str) -> bool:
    return _passes(region_validator, value)


def _passes(validator: Callable[[str], None], value: str) -> bool:
    try:
        validator(value)
    except ValidationError:
        return False
    return True


@deconstructible
class PrintableTextValidator:
    """Refuse NUL and other control characters (and unpaired surrogates, which UTF-8 cannot
    carry); multi-line text may keep tabs and line breaks."""

    def __init__(self, multiline: bool = False) -> None:
        self.multiline = multiline

    def __call__(self, value: str) -> None:
        allowed = LINE_BREAKS if self.multiline else frozenset()
        for character in str(value):
            if character not in allowed and unicodedata.category(character) in ("Cc", "Cs"):
                raise ValidationError(
                    "Remove the control character U+%(code)04X.",
                    code="control_character",
                    params={"code": ord(character)},
                )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PrintableTextValidator) and other.multiline == self.multiline


# --- text ---------------------------------------------------------------------------------------


class TextField(forms.CharField):
    """Free text: at most ``max_length`` characters, no control characters (multi-line text
    keeps tabs and line breaks), checked before anything reaches the database."""

    def __init__(self, *, max_length: int, multiline: bool = False, **kwargs: Any) -> None:
        super().__init__(max_length=max_length, **kwargs)
        self.validators.append(PrintableTextValidator(multiline))


class _IdentifierField(TextField):
    """A name AWS writes one way: a pattern (the subclass's validator) and a length."""

    length = 0
    default_label = ""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", self.default_label)
        super().__init__(max_length=self.length, **kwargs)


class AccountIdField(_IdentifierField):
    """An AWS account id: exactly 12 ASCII digits."""

    default_validators = [account_id_validator]
    length, default_label = 12, "Account"


class RegionField(_IdentifierField):
    """A Region name such as eu-west-1."""

    default_validators = [region_validator]
    length, default_label = 32, "Region"


class AmiIdField(_IdentifierField):
    """An image id: ``ami-`` and 8 to 17 hexadecimal digits."""

    default_validators = [ami_id_validator]
    length, default_label = 21, "Image"


class PathField(TextField):
    """A file or folder name given on the command line."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=4096, **kwargs)

    def clean(self, value: Any) -> Path | None:
        text = super().clean(value)
        return Path(text) if text else None


# --- numbers ------------------------------------------------------------------------------------


class IntegerField(forms.IntegerField):
    """A whole number in ASCII digits (an optional minus), within [min_value, max_value], which
    default to PostgreSQL's bigint; "1.0", "²" and "1e3" are refused, not guessed at."""

    def __init__(
        self, *, min_value: int = -BIGINT_MAX - 1, max_value: int = BIGINT_MAX, **kwargs: Any
    ) -> None:
        given = kwargs.get("error_messages") or {}
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)
        defaults = {
            "invalid": "Enter a whole number in digits 0-9.",
            **dict.fromkeys(
                ("min_value", "max_value", "out_of_range"),
                f"Enter a number from {min_value} to {max_value}.",
            ),
        }
        self.error_messages.update({k: v for k, v in defaults.items() if k not in given})

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        text = str(value).strip()
        if len(text) > _BIGINT_DIGITS + 1 and _passes(_INTEGER, text):
            raise ValidationError(self.error_messages["out_of_range"], code="out_of_range")
        if not _passes(_INTEGER, text):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return int(text)


class IdField(IntegerField):
    """A primary key or sequence number: a whole number from 1 to bigint's largest."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=BIGINT_MAX, **kwargs)


class NumberChoiceField(forms.TypedChoiceField):
    """One of a few numbers (a page size, a number of days), compared as the exact text."""

    def __init__(self, numbers: Sequence[int], **kwargs: Any) -> None:
        super().__init__(
            choices=[(number, str(number)) for number in numbers],
            coerce=int,
            empty_value=None,
            **kwargs,
        )
        self.error_messages["invalid_choice"] = f"Choose one of {', '.join(map(str, numbers))}."


# --- enumerations and lists ---------------------------------------------------------------------


class ChoiceField(forms.ChoiceField):
    """One of the given choices; the refusal does not repeat the (possibly huge) value."""

    default_error_messages = {"invalid_choice": "Choose one of the listed values."}


class ListField(forms.Field):
    """A repeated parameter (``?image=1&image=2``): at most ``max_items`` values, each parsed
    by ``item``."""

    widget = forms.MultipleHiddenInput

    def __init__(self, item: forms.Field, *, max_items: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.item, self.max_items = item, max_items

    def to_python(self, value: Any) -> list[Any]:
        values = value if isinstance(value, list | tuple) else [value]
        values = [v for v in values if v not in self.empty_values]
        if len(values) > self.max_items:
            raise ValidationError(
                "Give at most %(count)s values.", code="too_many", params={"count": self.max_items}
            )
        return [self._item(position, v) for position, v in enumerate(values, 1)]

    def _item(self, position: int, value: Any) -> Any:
        try:
            return self.item.clean(value)
        except ValidationError as error:
            raise ValidationError(
                f"Value {position}: {' '.join(error.messages)}", code="invalid_item"
            ) from None

    def validate(self, value: list[Any]) -> None:
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")


# --- dates and times ----------------------------------------------------------------------------


def _temporal_text(value: Any, message: str) -> Any:
    """Refuse text no date could be written in before a parser sees it: strptime reads any
    Unicode digit, and a long string is never a date."""
    if isinstance(value, str) and (
        not value.isascii() or len(value) > MAX_TEMPORAL_TEXT or not value.isprintable()
    ):
        raise ValidationError(message, code="invalid")
    return value


def _out_of_range() -> ValidationError:
    return ValidationError(
        "Give a date from %(low)s to %(high)s.",
        code="out_of_range",
        params={"low": EARLIEST_DATE.isoformat(), "high": LATEST_DATE.isoformat()},
    )


class DateField(forms.DateField):
    """A date written YYYY-MM-DD, from 1970 to 2999."""

    input_formats = DATE_FORMATS
    default_error_messages = {"invalid": "Enter a date as YYYY-MM-DD."}

    def to_python(self, value: Any) -> datetime.date | None:
        parsed = super().to_python(_temporal_text(value, self.error_messages["invalid"]))
        if parsed is not None and not EARLIEST_DATE <= parsed <= LATEST_DATE:
            raise _out_of_range()
        return parsed


class DateTimeField(forms.DateTimeField):
    """A time (UTC unless it names its zone) or a date, from 1970 to 2999."""

    input_formats = DATETIME_FORMATS
    default_error_messages = {"invalid": "Enter a date (YYYY-MM-DD) or a time (YYYY-MM-DD HH:MM)."}

    def to_python(self, value: Any) -> datetime.datetime | None:
        try:
            parsed = super().to_python(_temporal_text(value, self.error_messages["invalid"]))
        except (OverflowError, ValueError):  # a zone offset pushing the time off the calendar
            raise _out_of_range() from None
        if parsed is not None and not EARLIEST_DATE <= _utc_date(parsed) <= LATEST_DATE:
            raise _out_of_range()
        return parsed


def _utc_date(value: datetime.datetime) -> datetime.date:
    try:
        return value.astimezone(datetime.UTC).date() if timezone.is_aware(value) else value.date()
    except OverflowError:
        raise _out_of_range() from None


class RangeEndField(DateTimeField):
    """The end of a time range, exclusive: a date alone includes that whole day, so it means
    the next midnight (safe to add: dates stop a day before the calendar does)."""

    def to_python(self, value: Any) -> datetime.datetime | None:
        parsed = super().to_python(value)
        if parsed is not None and isinstance(value, str) and len(value.strip()) == 10:
            parsed += datetime.timedelta(days=1)
        return parsed


# --- forms, path parameters and command-line arguments ------------------------------------------


class PageForm(forms.Form):
    """A numbered page of a list (``?page=3``)."""

    page = IdField(required=False, label="Page")


def form_problems(form: forms.Form) -> list[str]:
    """One readable line per invalid field ("Label: message"), for a notice above a page."""
    lines = []
    for name, errors in form.errors.items():
        if name not in form.fields:  # the form's own errors, about no one field
            lines.append(" ".join(errors))
            continue
        label = form.fields[name].label or name.replace("_", " ").capitalize()
        lines.append(f"{label}: {' '.join(errors)}")
    return lines


View = TypeVar("View", bound=Callable[..., Any])


def reads(*, query: Sequence[type[forms.Form]] = (), post: Sequence[type[forms.Form]] = ()):
    """Name the forms a view parses its query string and its POST body with.

    The view still binds them itself; this makes what it reads discoverable (the URLconf-wide
    fuzz test sends hostile values to every field named here). Apply it below the decorators
    that wrap the view: they copy the attributes on.
    """

    def attach(view: View) -> View:
        view.query_forms = tuple(query)  # type: ignore[attr-defined]
        view.post_forms = tuple(post)  # type: ignore[attr-defined]
        return view

    return attach


class IdConverter:
    """The ``<id:pk>`` path converter: an id as IdField reads it; anything else is a 404."""

    regex = "[0-9]+"

    def to_python(self, value: str) -> int:
        try:
            return IdField().clean(value)
        except ValidationError as error:
            raise ValueError(error.messages[0]) from None

    def to_url(self, value: int) -> str:
        return str(value)


def argument_type(field: forms.Field, name: str) -> Callable[[str], Any]:
    """An argparse ``type=`` parsing with ``field``: a refusal is argparse's own error (usage,
    the message, exit status 2), the same message the pages give."""

    def parse(text: str) -> Any:
        try:
            return field.clean(text)
        except ValidationError as error:
            raise argparse.ArgumentTypeError(" ".join(error.messages)) from None

    parse.__name__ = name
    return parse


PATH_ARGUMENT = argument_type(PathField(), "path")
