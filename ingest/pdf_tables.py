"""PDF tables: ruled tables pdfplumber finds on a page become one Block(kind="table") each, a line per
data row: "Header: value; Header: value". The header row is the first row. A header cell merged over
several columns names each of them; values under one header are joined. A cell's text broken over
several ruled rows is put back together: a row whose first cell is merged into the one above (pdfplumber
gives None) continues that row.

A ruled box that is not a table (one row, or one column of text under its first row: a call-out, a
form box) is left to the text flow. A table that cannot be read as rows is skipped and recorded, never
flattened into word soup:
- "no header row": fewer than half of the used columns have a header;
- "merged cells": more than half of the data cells that stand under a header of their own are merged
  into their left neighbour;
- "no data rows".
A two-column table whose first row is set like the others (not bold where the rest is not) is a list of
label/value pairs: each row reads "label: value".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.records import DroppedLine
from ingest.loaders import Block

MERGED_LIMIT = 0.5  # share of merged data cells over which a table is skipped


@dataclass
class PageTable:
    bbox: tuple[float, float, float, float]  # x0, top, x1, bottom
    block: Block | None  # None: skipped (see `dropped`)
    dropped: DroppedLine | None = None


def _cell(text: str | None) -> str | None:
    if text is None:
        return None
    # Wrapped cell lines: rejoin words hyphenated at a line end, then flatten whitespace.
    return re.sub(r"\s+", " ", re.sub(r"(?<=[^\W\d_])-\n(?=[a-z])", "", text)).strip()


def page_tables(page, page_number: int, is_bold) -> list[PageTable]:
    """The page's tables. `is_bold(fontname)` tells a bold font."""
    found = []
    for table in page.find_tables():
        rows = [[_cell(c) for c in row] for row in table.extract()]
        # Columns with text below the first row: a box whose text runs in one column under a title is not a table.
        used = [i for i in range(max((len(r) for r in rows), default=0)) if any(i < len(r) and r[i] for r in rows[1:])]
        if len(rows) < 2 or len(used) < 2:
            continue  # a ruled box around text (a call-out, a form box), left to the text flow
        header_bold = _row_bold(page, table.rows[0], is_bold)
        rest_bold = all(_row_bold(page, row, is_bold) for row in table.rows[1:])
        if len(used) == 2 and not (header_bold and not rest_bold):
            text, why = _pairs(rows, used), ""
        else:
            text, why = _rows_with_header(rows, used)
        bbox = tuple(table.bbox)
        if why or not text:
            first = " | ".join(c for c in (rows[0][i] for i in used) if c)[:120] or "(empty cells)"
            reason = f"table skipped: {why or 'no data rows'} (page {page_number})"
            found.append(PageTable(bbox, None, DroppedLine(first, reason)))
        else:
            found.append(PageTable(bbox, Block("table", text, page_marks=((0, page_number),))))
    return found


def _row_bold(page, row, is_bold) -> bool:
    chars = [c for cell in row.cells if cell for c in page.crop(cell, strict=False).chars if c["text"].strip()]
    return bool(chars) and sum(1 for c in chars if is_bold(c["fontname"])) > 0.5 * len(chars)


def _pairs(rows: list[list[str | None]], used: list[int]) -> str:
    label, value = used
    lines = []
    for row in _records(rows):
        key, val = (row[label] or "") if label < len(row) else "", (row[value] or "") if value < len(row) else ""
        if key and val:
            lines.append(f"{key}: {val}")
        elif key or val:
            lines.append(key or val)
    return "\n".join(lines)


def _records(rows: list[list[str | None]]) -> list[list[str | None]]:
    """Rows put back together where a cell's text runs over several ruled rows: a row whose first cell is
    merged into the one above (None) continues that row, cell by cell."""
    records: list[list[str | None]] = []
    for row in rows:
        if records and row and row[0] is None:
            above = records[-1]
            for i, cell in enumerate(row):
                if cell and i < len(above):
                    above[i] = f"{above[i]} {cell}" if above[i] else cell
            continue
        records.append(list(row))
    return records


def _rows_with_header(rows: list[list[str | None]], used: list[int]) -> tuple[str, str]:
    records = _records(rows)
    width = max(len(r) for r in records)
    header: list[str] = []
    for i in range(width):
        cell = records[0][i] if i < len(records[0]) else ""
        # None: merged with the cell on its left, whose header it shares
        header.append(header[-1] if cell is None and header else (cell or ""))
    if sum(1 for i in used if header[i]) < 0.5 * len(used):
        return "", "no header row"
    data = records[1:]
    # A data cell merged across columns the header keeps apart is one the rows cannot be read by.
    across = [row[i] is None for row in data for i in used[1:] if i < len(row) and header[i] != header[i - 1]]
    if across and sum(across) > MERGED_LIMIT * len(across):
        return "", "merged cells"
    lines = []
    for row in data:
        pairs: list[list[str]] = []
        for i in used:
            value = row[i] if i < len(row) else None
            if not value:
                continue
            if pairs and pairs[-1][0] == header[i]:
                pairs[-1][1] += " " + value
            else:
                pairs.append([header[i], value])
        if pairs:
            lines.append("; ".join(f"{h}: {v}" if h else v for h, v in pairs))
    return "\n".join(lines), ""
