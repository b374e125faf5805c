"""CSV cells that are safe to open in a spreadsheet, and how to read them back.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is taken for a
formula by Excel, LibreOffice and Google Sheets (CSV injection). Every CSV amidash writes passes
its text cells through ``spreadsheet_safe``, which prefixes such a cell with ``'`` so it opens as
text. A cell that itself begins with ``'`` is prefixed too, so ``read_spreadsheet_safe`` can undo
the escape exactly: a signed export still verifies against the values it was made from.
"""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"


def spreadsheet_safe(value: Any) -> Any:
    """``value`` as a CSV cell a spreadsheet shows as text; non-strings are left alone."""
    if isinstance(value, str) and value.startswith((*FORMULA_STARTS, TEXT_MARK)):
        return TEXT_MARK + value
    return value


def read_spreadsheet_safe(cell: str) -> str:
    """The value a cell written by ``spreadsheet_safe`` was made from."""
    return cell[1:] if cell.startswith(TEXT_MARK) else cell
