"""Reading questions files: .csv .xlsx .txt .jsonl .docx -> a validated QuestionSet.

- .csv / .xlsx: the column named "question" (case-insensitive), else the first column holding text;
  an optional "id" column. The header is the first row that names a "question" column, else the first
  non-empty row.
- .txt: one question a line.  .jsonl: one {"id", "question"} object a line.
- .docx: the items of numbered or bulleted lists, else the first column of the first table
  (or its "question" column when the table has a header naming one).

Everything that can be wrong with a file is found here, before anything is answered or written:
a missing or empty file, no question column, a CSV that is not UTF-8 (or whose unquoted commas split a
question where they cannot be joined back), a .docx with no list or table,
ids used twice, more questions than the limit. Each raises BadInput with a message saying what to do.
Questions without an id get "q1", "q2", ... (their position among the non-blank questions).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import date, datetime, time
from pathlib import Path

from assistant.batch.records import BadInput, Question, QuestionSet

INPUT_SUFFIXES = (".csv", ".xlsx", ".txt", ".jsonl", ".docx")
DEFAULT_MAX_ROWS = 5000
HEADER_SEARCH_ROWS = 20  # a "question" header may sit under a title row or two

_NUMBERISH = re.compile(r"^[\s\d.,:/%+\-()£$€]*$")  # numbers, dates, amounts: not questions
_TYPED_LIST_MARKER = re.compile(r"^\s*(?:\(?\d{1,4}[.)]|\(?[a-zA-Z][.)]|[•\u2022\u25aa\u25cf\-–—*])\s+")


def read_questions(path: Path | str, max_rows: int = DEFAULT_MAX_ROWS, name: str | None = None) -> QuestionSet:
    """Read and validate a questions file. `name` is the file name to show in messages (uploads)."""
    path = Path(path)
    name = name or path.name
    suffix = Path(name).suffix.lower()
    if suffix not in INPUT_SUFFIXES:
        raise BadInput(f"{name}: unsupported questions file type {suffix or '(none)'!r}; use one of {', '.join(INPUT_SUFFIXES)}")
    if not path.is_file():
        raise BadInput(f"{name}: no such file")
    if path.stat().st_size == 0:
        raise BadInput(f"{name} is empty: there are no questions in it")
    reader = {".csv": _read_csv, ".xlsx": _read_xlsx, ".txt": _read_txt, ".jsonl": _read_jsonl, ".docx": _read_docx}[suffix]
    result = reader(path, name, max_rows)
    if not result.questions:
        blanks = f" ({result.blank} blank)" if result.blank else ""
        raise BadInput(f"{name} has no questions{blanks}")
    _check_ids(result)
    return result


# --- shared helpers --------------------------------------------------------------------------------


def _clean(value) -> str:
    """A cell value as question text: numbers as written, None as blank."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (datetime, date, time)):
        value = value.isoformat()
    return str(value).replace("\r\n", "\n").replace("\r", "\n").strip()


class _Collector:
    """Numbers questions, counts blanks, and stops at the row limit."""

    def __init__(self, name: str, max_rows: int):
        self.name, self.max_rows = name, max_rows
        self.questions: list[Question] = []
        self.blank = 0

    def add(self, text, id_value=None, where: str = "") -> None:
        text = _clean(text)
        if not text:
            self.blank += 1
            return
        if len(self.questions) >= self.max_rows:
            raise BadInput(
                f"{self.name} has more than {self.max_rows:,} questions (the limit); split it into smaller files "
                f"or raise the limit with --max-rows"
            )
        qid = _clean(id_value) or f"q{len(self.questions) + 1}"
        self.questions.append(Question(id=qid, text=text, where=where))

    def result(self, **extra) -> QuestionSet:
        return QuestionSet(source=self.name, questions=self.questions, blank=self.blank, **extra)


def _check_ids(result: QuestionSet) -> None:
    seen: dict[str, Question] = {}
    for q in result.questions:
        if q.id in seen:
            first = seen[q.id]
            raise BadInput(
                f"{result.source}: the id {q.id!r} is used twice ({first.where or 'first'} and {q.where or 'again'}); "
                f"ids must be unique"
            )
        seen[q.id] = q


def _decode(data: bytes, name: str, what: str) -> str:
    """UTF-8 (with or without BOM; UTF-16 with a BOM too), else a message naming the likely encoding."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        guess = ""
        try:
            from charset_normalizer import from_bytes

            best = from_bytes(data).best()
            if best is not None and best.encoding not in ("utf_8", "ascii"):
                guess = f"; it looks like {best.encoding.replace('_', '-')}"
        except Exception:  # the guess is only a hint
            pass
        where = f"byte 0x{data[exc.start]:02x} at position {exc.start:,}{guess}"
        how = "in Excel: Save As › “CSV UTF-8”" if what == "csv" else "most editors offer it under Save As › Encoding"
        raise BadInput(f"{name} is not UTF-8 text ({where}). Save it as UTF-8 ({how}) and try again") from None


def _is_text(value) -> bool:
    if isinstance(value, bool) or isinstance(value, (int, float, datetime, date, time)):
        return False
    text = _clean(value)
    return bool(text) and not _NUMBERISH.match(text)


def _from_table(rows: list[list], name: str, max_rows: int, where: str = "row", header_required: bool = True,
                header_hint: bool = False, delimiter: str | None = None) -> QuestionSet:
    """Questions from a table (lists of cell values, the first row possibly a header).

    With `header_required` (csv, xlsx) the first non-empty row is the header unless a later one of the
    first few names a "question" column. Without it (a Word table) the first row is a header only when
    it names a "question" column or `header_hint` says the row is formatted as a header.
    `delimiter` (csv): a row with more filled cells than the header has columns holds a question
    whose delimiter was not quoted ("According to X, what ...?"); when the question column is the
    last, its cells are joined back, else the row is an error (nothing is silently cut).
    """
    numbered = [(i + 1, list(r)) for i, r in enumerate(rows)]
    while numbered and not any(_clean(c) for c in numbered[-1][1]):
        numbered.pop()  # trailing empty rows (spreadsheets keep formatted ones) are not blank questions
    if header_required:
        while numbered and not any(_clean(c) for c in numbered[0][1]):
            numbered.pop(0)
    if not numbered:
        raise BadInput(f"{name} is empty: there are no questions in it")

    header_at = None
    for i, (_, r) in enumerate(numbered[:HEADER_SEARCH_ROWS]):
        if any(_clean(c).casefold() in ("question", "questions") for c in r):
            header_at = i
            break
    notes: list[str] = []
    if header_at is None and (header_required or header_hint):
        header_at = 0
    if header_at is None:  # a Word table without header: its first column, every row
        collector = _Collector(name, max_rows)
        for n, r in numbered:
            collector.add(r[0] if r else "", where=f"{where} {n}")
        return collector.result(column="first column")

    header = [_clean(c) for c in numbered[header_at][1]]
    body = numbered[header_at + 1 :]
    lowered = [h.casefold() for h in header]
    id_col = lowered.index("id") if "id" in lowered else None
    q_col = next((i for i, h in enumerate(lowered) if h in ("question", "questions")), None)
    if q_col is None:
        for i in range(len(header)):
            if i == id_col:
                continue
            values = [r[i] for _, r in body if i < len(r) and _clean(r[i])]
            if values and sum(_is_text(v) for v in values) * 2 > len(values):
                q_col = i
                break
        if q_col is None:
            shown = ", ".join(repr(h) for h in header if h) or "(no names)"
            raise BadInput(
                f"{name}: no question column: no column is named 'question' and none of the columns "
                f"({shown}) holds text questions"
            )
        if header[q_col].rstrip().endswith("?"):  # no header row at all: the first row is a question
            body = numbered[header_at:]
            notes.append(f"no header row: the questions were taken from column {q_col + 1}")
            header = [""] * len(header)
        else:
            notes.append(f"no column named 'question': the questions were taken from column {header[q_col]!r}")
    if delimiter is not None:
        body, rejoined = _rejoin_split_questions(body, len(header), q_col, delimiter, name, where)
        if rejoined:
            notes.append(f"{rejoined} question(s) held an unquoted {delimiter!r}: the cells after the question column "
                         f"were joined back into the question (quote such questions to be sure)")
    collector = _Collector(name, max_rows)
    for n, r in body:
        text = r[q_col] if q_col < len(r) else None
        id_value = r[id_col] if id_col is not None and id_col < len(r) else None
        collector.add(text, id_value, where=f"{where} {n}")
    return collector.result(column=header[q_col] or f"column {q_col + 1}", notes=notes)


def _rejoin_split_questions(body: list, columns: int, q_col: int, delimiter: str, name: str, where: str) -> tuple[list, int]:
    out, rejoined = [], 0
    for n, r in body:
        if len(r) > columns and any(_clean(c) for c in r[columns:]):
            if q_col != columns - 1:
                raise BadInput(f"{name}, {where} {n}: {len(r)} cells where the header has {columns}: a question holding "
                               f"{delimiter!r} must be quoted (\"...\"); nothing was answered")
            r = list(r[:q_col]) + [delimiter.join(r[q_col:]).rstrip(delimiter)]
            rejoined += 1
        out.append((n, r))
    return out, rejoined


# --- the formats -------------------------------------------------------------------------------------


def _read_csv(path: Path, name: str, max_rows: int) -> QuestionSet:
    text = _decode(path.read_bytes(), name, "csv")
    if not text.strip():
        raise BadInput(f"{name} is empty: there are no questions in it")
    sample = text[:20000]
    delimiter = ","
    try:
        delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        pass
    rows = []
    filled = 0
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            rows.append(row)
            if any(c.strip() for c in row):
                filled += 1
                if filled > max_rows + HEADER_SEARCH_ROWS:
                    break  # enough to know it is over the limit: _from_table says so
    except csv.Error as exc:
        raise BadInput(f"{name} is not a readable CSV file ({exc})") from None
    return _from_table(rows, name, max_rows, delimiter=delimiter)


def _read_xlsx(path: Path, name: str, max_rows: int) -> QuestionSet:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise BadInput(f"{name} is not a readable .xlsx workbook ({exc.__class__.__name__}: {exc})") from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise BadInput(f"{name} has no worksheet")
        rows = []
        filled = 0
        for row in sheet.iter_rows(values_only=True):
            rows.append(list(row))
            if any(_clean(c) for c in row):
                filled += 1
                if filled > max_rows + HEADER_SEARCH_ROWS:
                    break
    finally:
        workbook.close()
    return _from_table(rows, name, max_rows)


def _read_txt(path: Path, name: str, max_rows: int) -> QuestionSet:
    text = _decode(path.read_bytes(), name, "txt")
    collector = _Collector(name, max_rows)
    for n, line in enumerate(text.splitlines(), start=1):
        collector.add(line, where=f"line {n}")
    return collector.result()


def _read_jsonl(path: Path, name: str, max_rows: int) -> QuestionSet:
    text = _decode(path.read_bytes(), name, "jsonl")
    collector = _Collector(name, max_rows)
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            collector.blank += 1
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadInput(f"{name}, line {n}: not JSON ({exc.msg}); each line must be {{\"id\": ..., \"question\": ...}}") from None
        if isinstance(item, str):
            item = {"question": item}
        if not isinstance(item, dict) or "question" not in item:
            raise BadInput(f"{name}, line {n}: no \"question\" field; each line must be {{\"id\": ..., \"question\": ...}}")
        if item["question"] is not None and not isinstance(item["question"], (str, int, float)):
            raise BadInput(f"{name}, line {n}: \"question\" must be text")
        collector.add(item["question"], item.get("id"), where=f"line {n}")
    return collector.result()


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _is_list_item(paragraph) -> bool:
    """Numbered or bulleted: Word numbering on the paragraph or its style, a List style, or a typed marker."""
    style = paragraph.style
    if style is not None and (style.name or "").lower().startswith(("heading", "title", "toc")):
        return False  # numbered headings are structure, not questions
    p_pr = paragraph._p.pPr
    if p_pr is not None and p_pr.numPr is not None:
        return True
    while style is not None:
        if (style.name or "").lower().startswith(("list bullet", "list number", "list paragraph")):
            return True
        s_pr = style.element.pPr
        if s_pr is not None and s_pr.numPr is not None:
            return True
        style = style.base_style
    return bool(_TYPED_LIST_MARKER.match(paragraph.text)) and len(paragraph.text.strip()) > 3


def _read_docx(path: Path, name: str, max_rows: int) -> QuestionSet:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise BadInput(f"{name} is not a readable .docx document ({exc.__class__.__name__}: {exc})") from None

    items = [p for p in document.paragraphs if _is_list_item(p)]
    if items:
        collector = _Collector(name, max_rows)
        for n, p in enumerate(items, start=1):
            text = p.text
            if p._p.pPr is None or p._p.pPr.numPr is None:
                text = _TYPED_LIST_MARKER.sub("", text, count=1) if _TYPED_LIST_MARKER.match(text) else text
            collector.add(text, where=f"list item {n}")
        return collector.result()

    if document.tables:
        table = document.tables[0]
        rows = []
        for row in table.rows:
            cells = []
            last = None
            for cell in row.cells:  # merged cells repeat: keep each once
                if last is not None and cell._tc is last:
                    continue
                last = cell._tc
                cells.append(cell.text)
            rows.append(cells)
        header_hint = False
        if table.rows:
            first = table.rows[0]
            tr_pr = first._tr.trPr
            header_hint = tr_pr is not None and tr_pr.find(f"{_W}tblHeader") is not None
            runs = [r for c in first.cells for p in c.paragraphs for r in p.runs if r.text.strip()]
            header_hint = header_hint or (bool(runs) and all(r.bold for r in runs))
        return _from_table(rows, name, max_rows, where="table row", header_required=False, header_hint=header_hint)

    raise BadInput(
        f"{name} has no numbered or bulleted list and no table: put the questions in a numbered list, "
        f"or in the first column of a table"
    )
