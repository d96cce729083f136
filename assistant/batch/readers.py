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

The work a file can ask for is bounded, whatever it declares. A sheet is read row by row with its
declared size (`<dimension>`, which can be forged either way) ignored; a table ends at MAX_BLANK_RUN
blank rows in a row (a note says when rows follow), and only its first MAX_COLUMNS columns are read.
Refused, with a message naming the limit: more than MAX_BLANK_ROWS blank rows, a .docx of more than
MAX_PARAGRAPHS paragraphs, a .docx / .xlsx unpacking to more than MAX_UNPACKED_BYTES (zipfile holds each
member to its declared size). A .docx paragraph's style comes from a table of the document's styles built
once, and an empty paragraph without properties is passed over before any style is looked at.
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
MAX_BLANK_RUN = 1_000  # blank rows in a row that end a table (anything below them is not read, and a note says so)
MAX_BLANK_ROWS = 10_000  # blank rows in all before the end of a table: more is refused
MAX_COLUMNS = 100  # columns of a sheet read: one far-right cell would otherwise make every row that wide
MAX_PARAGRAPHS = 50_000  # paragraphs of a .docx (empty ones included): a 500-page report has about 20,000
MAX_UNPACKED_BYTES = 100 * 1024 * 1024  # a .docx / .xlsx is a zip: what it unpacks to, as its directory declares

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
    if suffix in (".xlsx", ".docx"):
        _check_unpacked_size(path, name)
    reader = {".csv": _read_csv, ".xlsx": _read_xlsx, ".txt": _read_txt, ".jsonl": _read_jsonl, ".docx": _read_docx}[suffix]
    result = reader(path, name, max_rows)
    if not result.questions:
        blanks = f" ({result.blank} blank)" if result.blank else ""
        raise BadInput(f"{name} has no questions{blanks}")
    _check_ids(result)
    return result


# --- shared helpers --------------------------------------------------------------------------------


def _check_unpacked_size(path: Path, name: str) -> None:
    """Refuse a zip (.docx, .xlsx) that would unpack to more than MAX_UNPACKED_BYTES; a file that is not a
    zip is left to its reader, which says so."""
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return
    if unpacked > MAX_UNPACKED_BYTES:
        raise BadInput(f"{name} unpacks to {unpacked:,} bytes, more than the {MAX_UNPACKED_BYTES:,} a questions file "
                       f"may (the limit); split it into smaller files")


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


def _table_rows(rows, name: str, max_rows: int, where: str = "row") -> tuple[list[list], list[str]]:
    """The rows of a table, read one at a time up to its end: enough filled rows to know it is over the
    question limit (`_from_table` says so), or MAX_BLANK_RUN blank rows in a row (then a note, if rows
    follow). More than MAX_BLANK_ROWS blank rows before that end is refused. Returns (rows, notes)."""
    kept: list[list] = []
    filled = blank = run = 0
    rows = iter(rows)
    for row in rows:
        kept.append(list(row))
        if any(_clean(c) for c in row):
            filled += 1
            run = 0
            if filled > max_rows + HEADER_SEARCH_ROWS:
                break
            continue
        blank += 1
        run += 1
        if blank > MAX_BLANK_ROWS:
            raise BadInput(f"{name} has more than {MAX_BLANK_ROWS:,} blank {where}s among its questions (the limit); "
                           f"delete the blank {where}s and try again")
        if run == MAX_BLANK_RUN:
            if next(rows, None) is not None:
                return kept, [f"reading stopped at {where} {len(kept):,}, after {MAX_BLANK_RUN:,} blank {where}s in a row: "
                              f"anything below them was not read"]
            break
    return kept, []


def _from_table(rows: list[list], name: str, max_rows: int, where: str = "row", header_required: bool = True,
                header_hint: bool = False, delimiter: str | None = None, notes: list[str] | None = None) -> QuestionSet:
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
    notes = list(notes or [])
    if header_at is None and (header_required or header_hint):
        header_at = 0
    if header_at is None:  # a Word table without header: its first column, every row
        collector = _Collector(name, max_rows)
        for n, r in numbered:
            collector.add(r[0] if r else "", where=f"{where} {n}")
        return collector.result(column="first column", notes=notes)

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
    try:
        rows, notes = _table_rows(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), name, max_rows)
    except csv.Error as exc:
        raise BadInput(f"{name} is not a readable CSV file ({exc})") from None
    return _from_table(rows, name, max_rows, delimiter=delimiter, notes=notes)


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
        # The declared <dimension> can be forged: openpyxl would stop at its last row (hiding the rows
        # below) and pad every row to its width. Without it rows come as the sheet's XML holds them, at
        # most MAX_COLUMNS wide; a gap between two rows comes as blank rows, which _table_rows bounds.
        sheet.reset_dimensions()
        rows, notes = _table_rows(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), name, max_rows)
    finally:
        workbook.close()
    return _from_table(rows, name, max_rows, notes=notes)


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
_W_T = f"{_W}t"


class _ParagraphStyles:
    """What a paragraph's style makes it: "structure" (a heading, title or contents entry), "list" (a List
    style, or one with Word numbering, itself or through the styles it is based on) or "plain".

    Resolved once per style from a table of the document's paragraph styles: python-docx's
    `paragraph.style` searches every style for the default one on each call (20,000 empty paragraphs
    took 11 s). A style id the document does not define means its default paragraph style, as in Word.
    """

    def __init__(self, document) -> None:
        self._styles: dict[str, tuple[str, bool, str]] = {}  # id -> (lowercased name, numbered, based-on id)
        self._default = ""
        for style in document.styles.element.xpath("w:style"):
            if (style.get(f"{_W}type") or "paragraph") != "paragraph":
                continue
            style_id = style.get(f"{_W}styleId") or ""
            if not self._default and style.get(f"{_W}default") in ("1", "true", "on"):
                self._default = style_id
            name = (style.xpath("string(w:name/@w:val)") or style_id).lower()
            self._styles[style_id] = (name, bool(style.xpath("w:pPr/w:numPr")), style.xpath("string(w:basedOn/@w:val)"))
        self._listed: dict[str, bool] = {}  # id -> a list style, itself or through its basedOn chain

    def kind(self, p_element) -> str:
        style_id = p_element.style or self._default  # CT_P.style: the pStyle id, or None
        if style_id not in self._styles:
            style_id = self._default
        if self._styles.get(style_id, ("",))[0].startswith(("heading", "title", "toc")):
            return "structure"
        return "list" if self._is_listed(style_id) else "plain"

    def _is_listed(self, style_id: str) -> bool:
        """Walks each style's basedOn chain once in all (thousands of chained styles stay linear);
        a chain that loops back on itself ends as not a list."""
        path: list[str] = []
        listed = False
        while style_id in self._styles and style_id not in self._listed and style_id not in path:
            path.append(style_id)
            name, numbered, based_on = self._styles[style_id]
            if numbered or name.startswith(("list bullet", "list number", "list paragraph")):
                listed = True
                break
            style_id = based_on
        else:
            listed = self._listed.get(style_id, False)
        for walked in path:
            self._listed[walked] = listed
        return listed


def _is_list_item(paragraph, styles: _ParagraphStyles) -> bool:
    """Numbered or bulleted: Word numbering on the paragraph or its style, a List style, or a typed marker."""
    p_pr = paragraph._p.pPr
    if p_pr is None and next(paragraph._p.iter(_W_T), None) is None:
        return False  # no text and no properties (the commonest empty paragraph): decided before any style
    kind = styles.kind(paragraph._p)
    if kind == "structure":
        return False  # numbered headings are structure, not questions
    if kind == "list" or (p_pr is not None and p_pr.numPr is not None):
        return True
    return bool(_TYPED_LIST_MARKER.match(paragraph.text)) and len(paragraph.text.strip()) > 3


def _read_docx(path: Path, name: str, max_rows: int) -> QuestionSet:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise BadInput(f"{name} is not a readable .docx document ({exc.__class__.__name__}: {exc})") from None

    paragraphs = len(document.element.body.xpath(".//w:p"))  # tables' cells included
    if paragraphs > MAX_PARAGRAPHS:
        raise BadInput(f"{name} has {paragraphs:,} paragraphs, more than the {MAX_PARAGRAPHS:,} a questions document "
                       f"may have (the limit); split it into smaller files")
    styles = _ParagraphStyles(document)
    items = [p for p in document.paragraphs if _is_list_item(p, styles)]
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

        def cell_texts():
            for row in table.rows:
                cells = []
                last = None
                for cell in row.cells:  # merged cells repeat: keep each once
                    if last is not None and cell._tc is last:
                        continue
                    last = cell._tc
                    cells.append(cell.text)
                yield cells

        rows, notes = _table_rows(cell_texts(), name, max_rows, where="table row")
        header_hint = False
        if table.rows:
            first = table.rows[0]
            tr_pr = first._tr.trPr
            header_hint = tr_pr is not None and tr_pr.find(f"{_W}tblHeader") is not None
            runs = [r for c in first.cells for p in c.paragraphs for r in p.runs if r.text.strip()]
            header_hint = header_hint or (bool(runs) and all(r.bold for r in runs))
        return _from_table(rows, name, max_rows, where="table row", header_required=False, header_hint=header_hint,
                           notes=notes)

    raise BadInput(
        f"{name} has no numbered or bulleted list and no table: put the questions in a numbered list, "
        f"or in the first column of a table"
    )
