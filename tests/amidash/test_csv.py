"""CSV cells open as text in a spreadsheet, and read back to the value they were made from."""

from __future__ import annotations

import pytest

from amidash.csv import FORMULA_STARTS, read_spreadsheet_safe, spreadsheet_safe


@pytest.mark.parametrize("start", [*FORMULA_STARTS, "'"])
def test_it_prefixes_a_cell_that_a_spreadsheet_would_take_for_a_formula(start):
    value = f'{start}HYPERLINK("http://evil")'
    assert spreadsheet_safe(value) == f"'{value}"
    assert read_spreadsheet_safe(spreadsheet_safe(value)) == value


@pytest.mark.parametrize("value", ["web-1.0", "", "ami-0123", "a=b", 42, -3, None])
def test_it_leaves_plain_text_and_numbers_alone(value):
    assert spreadsheet_safe(value) == value
