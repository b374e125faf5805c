"""The shared field types: what each accepts, and that any other text is a message, never an
exception (the pages turn the message into a 400, the commands into exit status 2)."""

from __future__ import annotations

import argparse
import contextlib
import datetime

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from amidash.fields import (
    BIGINT_MAX,
    AccountIdField,
    AmiIdField,
    DateField,
    DateTimeField,
    IdConverter,
    IdField,
    IntegerField,
    ListField,
    NumberChoiceField,
    RangeEndField,
    RegionField,
    TextField,
    argument_type,
    is_region_name,
)

any_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=60)


@pytest.mark.parametrize(
    ("text", "number"),
    [("0", 0), ("42", 42), (" 7 ", 7), ("-3", -3), (str(BIGINT_MAX), BIGINT_MAX)],
)
def test_it_reads_whole_numbers_in_ascii_digits(text: str, number: int) -> None:
    assert IntegerField().clean(text) == number


@pytest.mark.parametrize(
    "text",
    [
        "²",
        "\u0663",
        "\uff11\uff12",
        "1.0",
        "1e3",
        "0x10",
        "1_000",
        "",
        "--1",
        str(BIGINT_MAX + 1),
        "9" * 5000,
    ],
)
def test_it_refuses_anything_else_as_a_number(text: str) -> None:
    with pytest.raises(ValidationError):
        IntegerField(required=True).clean(text)


def test_it_bounds_ids_to_bigint_from_one() -> None:
    with pytest.raises(ValidationError, match="from 1 to 9223372036854775807"):
        IdField().clean("0")
    with pytest.raises(ValidationError, match="from 1 to 9223372036854775807"):
        IdField().clean("9" * 30)


@given(text=any_text)
def test_it_answers_any_text_with_a_number_or_a_message(text: str) -> None:
    for field in (IntegerField(required=False), IdField(required=False)):
        try:
            value = field.clean(text)
        except ValidationError:
            continue
        assert value is None or (
            text.strip().lstrip("-").isascii() and abs(value) <= BIGINT_MAX + 1
        )


def test_it_compares_number_choices_as_the_exact_text() -> None:
    field = NumberChoiceField([25, 50], required=False)
    assert field.clean("50") == 50
    for text in ("²5", "050", "50.0", "75"):
        with pytest.raises(ValidationError, match="Choose one of 25, 50"):
            field.clean(text)


def test_it_reads_dates_within_1970_to_2999() -> None:
    assert DateField().clean("2026-03-01") == datetime.date(2026, 3, 1)
    for text in ("9999-12-31", "0001-01-01", "1969-12-31"):
        with pytest.raises(ValidationError, match="from 1970-01-01 to 2999-12-31"):
            DateField().clean(text)
    for text in (
        "\uff12\uff10\uff12\uff16-01-01",
        "yesterday",
        "2026-01-01" * 10,
        "2026-01-01\x00",
    ):
        with pytest.raises(ValidationError, match="YYYY-MM-DD"):
            DateField().clean(text)


def test_it_reads_times_with_or_without_a_zone_within_the_range() -> None:
    parsed = DateTimeField().clean("2026-03-01T10:30")
    assert parsed == datetime.datetime(2026, 3, 1, 10, 30, tzinfo=datetime.UTC)
    for text in ("9999-12-31T23:59", "0001-01-01T00:00+14:00", "2999-12-31T23:00-05:00"):
        with pytest.raises(ValidationError, match="from 1970-01-01 to 2999-12-31"):
            DateTimeField().clean(text)


def test_it_ends_a_range_given_as_a_date_at_the_next_midnight() -> None:
    assert RangeEndField().clean("2999-12-31") == datetime.datetime(3000, 1, 1, tzinfo=datetime.UTC)
    assert RangeEndField().clean("2026-01-01T12:00") == datetime.datetime(
        2026, 1, 1, 12, tzinfo=datetime.UTC
    )


@given(text=any_text)
def test_it_answers_any_text_with_a_time_or_a_message(text: str) -> None:
    for field in (
        DateField(required=False),
        DateTimeField(required=False),
        RangeEndField(required=False),
    ):
        with contextlib.suppress(ValidationError):
            field.clean(text)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("us-east-1", True),
        ("us-gov-west-1", True),
        ("ap-southeast-7", True),
        ("eu-isoe-west-1", True),
        ("us-east-12", True),
        ("mars", False),
        ("us-east-1\n", False),
        ("us-east-\u0661", False),
        ("US-EAST-1", False),
        ("us-east-1a", False),
    ],
)
def test_it_knows_a_region_name_one_way(name: str, valid: bool) -> None:
    assert is_region_name(name) is valid
    if valid:
        assert RegionField().clean(name) == name
    elif name.strip() == name:  # a form field strips surrounding white space first
        with pytest.raises(ValidationError, match="Not a Region name"):
            RegionField().clean(name)


@pytest.mark.parametrize("text", ["12345678901", "1234567890123", "\u0661" * 12, "12345678901x"])
def test_it_takes_account_ids_of_exactly_twelve_ascii_digits(text: str) -> None:
    assert AccountIdField().clean("123456789012") == "123456789012"
    with pytest.raises(ValidationError):
        AccountIdField().clean(text)


def test_it_takes_ami_ids() -> None:
    assert AmiIdField().clean("ami-0abc12345") == "ami-0abc12345"
    with pytest.raises(ValidationError, match="ami-0abc"):
        AmiIdField().clean("ami-XYZ")


@pytest.mark.parametrize("text", ["a\x00b", "bell\x07", "esc\x1b[31m", "line\nbreak"])
def test_it_refuses_control_characters_in_one_line_text(text: str) -> None:
    with pytest.raises(ValidationError, match="control character"):
        TextField(max_length=100).clean(text)


def test_it_keeps_line_breaks_and_tabs_in_multi_line_text_but_not_nul() -> None:
    field = TextField(max_length=100, multiline=True)
    assert field.clean("first\r\n\tsecond") == "first\r\n\tsecond"
    with pytest.raises(ValidationError, match="U\\+0000"):
        field.clean("first\x00")
    with pytest.raises(ValidationError, match="at most 100"):
        field.clean("x" * 101)


def test_it_bounds_lists_and_names_the_bad_item() -> None:
    field = ListField(IdField(), max_items=3)
    assert field.clean(["1", "2", ""]) == [1, 2]
    with pytest.raises(ValidationError, match="at most 3"):
        field.clean(["1"] * 4)
    with pytest.raises(ValidationError, match="Value 2: Enter a whole number"):
        field.clean(["1", "²"])
    with pytest.raises(ValidationError, match="required"):
        field.clean([])


def test_it_makes_path_ids_404_beyond_bigint() -> None:
    converter = IdConverter()
    assert converter.to_python("17") == 17
    for text in ("0", str(BIGINT_MAX + 1)):
        with pytest.raises(ValueError):
            converter.to_python(text)


def test_it_gives_argparse_the_fields_message() -> None:
    parse = argument_type(RegionField(), "Region name")
    assert parse("eu-west-1") == "eu-west-1"
    with pytest.raises(argparse.ArgumentTypeError, match="Not a Region name"):
        parse("mars")
