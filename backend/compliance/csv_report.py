"""CSV text for compliance exports (access reports, break-glass events, disclosures).

Pure: values in, text out. One place decides how a cell is written, so every export opens the same way
in a spreadsheet and none of them can smuggle a formula into the compliance officer's workstation.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum

# OWASP "CSV injection": a text cell starting with one of these is run as a formula by spreadsheets.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def cell_text(value: object) -> str:
    """The text of one cell: empty for None, ISO 8601 for dates, formulas neutralised for text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        value = value.value
    text = str(value)
    if text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """RFC 4180 CSV (CRLF line ends, quotes only where needed) with a header row of `columns`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([cell_text(column) for column in columns])
    width = len(columns)
    for row in rows:
        if len(row) != width:
            raise ValueError(f"CSV row has {len(row)} cells, header has {width}")
        writer.writerow([cell_text(value) for value in row])
    return buffer.getvalue()
