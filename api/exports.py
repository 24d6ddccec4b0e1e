"""CSV exports that a spreadsheet cannot turn into formulas: every cell goes through
:func:`safe_cell` (OWASP's CSV injection rule), and :func:`csv_line` writes one row."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

#: First characters a spreadsheet reads as the start of a formula (OWASP "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: A plain decimal number ("-12", "+3.5"): data, not a formula, and left as it is.
_NUMBER = re.compile(r"^[+-]?[0-9]+(\.[0-9]+)?$")


def safe_cell(value: object) -> str | int | float:
    """``value`` as a CSV cell: text starting with ``= + - @``, a tab or a carriage return
    gets a leading single quote (``'=1+1``), so the cell is shown as text; numbers (and text
    that is a plain decimal number) are left as they are; ``None`` is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, int | float):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _NUMBER.match(text):
        return "'" + text
    return text


def csv_line(cells: Iterable[object]) -> str:
    """One CSV row (``\\n`` ended) of :func:`safe_cell` cells."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([safe_cell(c) for c in cells])
    return buffer.getvalue()
