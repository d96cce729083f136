"""Writing a BatchResult: .jsonl .xlsx .docx .csv .md, chosen by the output's extension.

- .jsonl  one Answer JSON a line (DESIGN.md), in input order; a failed question (an LLM error, a timeout,
          any exception while answering) has "status": "failed" and an "error".
- .xlsx   for reviewers: sheet "Answers" (id, question, status, answer, citations "Title, ¶N", the cited
          paragraphs' text, notes, error) with wrapped text, a frozen header, set widths and a filter; sheet
          "Sources" listing every cited paragraph once (id, document, title, ¶, URL, text, cited by);
          sheet "About" (input, date, counts).
- .docx   a response document: each question a heading, its answer with numbered citations, the cited
          paragraphs quoted under it (the quoted sentences in bold), and the sources at the end; a failed
          question says "Not answered (failed)" with its error.
- .csv / .md  plain forms of the same (the .csv with the .xlsx's columns, the .md with each status).

Every format says a question's status with the Answer JSON's words: answered, abstained (the sources
do not answer it; the answer says so) or failed.

Every file is written to a temporary name in the output's folder, fsync'd and renamed over the output,
so a reader (or a crash) never sees half a file. Text a spreadsheet would run as a formula (starting
with = + - @, tab or carriage return): in .csv it gets a leading apostrophe (a CSV cell has no type);
in .xlsx it is stored as a typed text cell with Excel's hidden quote prefix, so the cell shows exactly
the user's text and is never a formula, even after it is edited.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from assistant.answer import ABSTAINED, ANSWERED, FAILED, Citation
from assistant.batch.records import BadInput, BatchResult, Row

OUTPUT_SUFFIXES = (".jsonl", ".xlsx", ".docx", ".csv", ".md")
MEDIA_TYPES = {
    ".jsonl": "application/x-ndjson",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".csv": "text/csv; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_CELL_LIMIT = 32767
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def check_output(path: Path | str) -> Path:
    path = Path(path)
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise BadInput(f"{path.name}: unsupported output type {path.suffix or '(none)'!r}; use one of {', '.join(OUTPUT_SUFFIXES)}")
    if path.is_dir():
        raise BadInput(f"{path} is a folder; --out needs a file name such as answers.xlsx")
    return path


def write_output(result: BatchResult, path: Path | str) -> Path:
    """Write `result` in the format of `path`'s extension, atomically. Returns the path."""
    path = check_output(path)
    writer = {".jsonl": write_jsonl, ".xlsx": write_xlsx, ".docx": write_docx, ".csv": write_csv, ".md": write_md}
    _atomic(path, lambda tmp: writer[path.suffix.lower()](result, tmp))
    return path


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    try:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


# --- the parts every format shares ----------------------------------------------------------------


def neutralise(text: str) -> str:
    """Text a spreadsheet would run as a formula gets a leading apostrophe."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def citation_label(c: Citation) -> str:
    return f"{c.title}, {c.location}"


def citations_cell(row: Row) -> str:
    if row.answer is None:
        return ""
    return "\n".join(f"[{c.marker}] {citation_label(c)}" for c in row.answer.citations)


def cited_text_cell(row: Row) -> str:
    if row.answer is None:
        return ""
    return "\n\n".join(f"[{c.marker}] {c.text}" for c in row.answer.citations)


def answer_text(row: Row) -> str:
    if row.status == FAILED:
        return ""  # the reason is in the error column
    return row.answer.answer


def notes_cell(row: Row) -> str:
    notes = []
    if row.duplicate_of:
        notes.append(f"same question as {row.duplicate_of}")
    if row.answer is not None:
        if row.answer.notice:
            notes.append(row.answer.notice)
        if row.answer.abstained and row.answer.nearest:
            notes.append("nearest passages (they do not answer it): " + ", ".join(n.paragraph_id for n in row.answer.nearest))
    return "\n".join(notes)


def cited_paragraphs(result: BatchResult) -> list[tuple[Citation, list[str]]]:
    """Every cited paragraph once, in first-cited order, with the ids of the questions citing it."""
    seen: dict[str, tuple[Citation, list[str]]] = {}
    for row in result.rows:
        if row.answer is None:
            continue
        for c in row.answer.citations:
            if c.paragraph_id not in seen:
                seen[c.paragraph_id] = (c, [])
            if row.question.id not in seen[c.paragraph_id][1]:
                seen[c.paragraph_id][1].append(row.question.id)
    return list(seen.values())


def cited_documents(result: BatchResult) -> list[tuple[Citation, list[str]]]:
    """Every cited document once (as its first citation), with where each paragraph cited from it is
    ("¶6", "¶6, p. 12"), in paragraph order."""
    docs: dict[str, tuple[Citation, list[Citation]]] = {}
    for c, _ in cited_paragraphs(result):
        if c.document_id not in docs:
            docs[c.document_id] = (c, [])
        docs[c.document_id][1].append(c)
    return [(c, [x.location for x in sorted(cited, key=lambda x: x.paragraph)]) for c, cited in docs.values()]


def quote_spans(text: str, quote: str) -> list[tuple[int, int]]:
    """Where the quoted sentences stand in the paragraph (runs are joined by " … " in a quote)."""
    spans = []
    start = 0
    for part in quote.split(" … "):
        part = part.strip()
        if not part:
            continue
        at = text.find(part, start)
        if at < 0:
            at = text.find(part)
        if at >= 0:
            spans.append((at, at + len(part)))
            start = at + len(part)
    return sorted(set(spans))


def _heading(row: Row) -> str:
    qid = row.question.id
    return f"{qid}. {row.question.text}" if qid.isdigit() else f"{qid}: {row.question.text}"


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "?", "!")) else text + "."


def _source_line(c: Citation, locations: list[str]) -> str:
    line = _sentence(c.title)
    details = ", ".join(x for x in (c.publisher, c.date) if x)
    if details:
        line += " " + _sentence(details)
    line += f" Paragraphs cited: {'; '.join(locations)} ({c.document_id})."
    if c.url:
        line += f" {c.url}"
    return line


TABLE_HEADER = ["id", "question", "status", "answer", "citations", "cited paragraphs", "notes", "error"]


def _table_row(row: Row) -> list[str]:
    return [row.question.id, row.question.text, row.status, answer_text(row), citations_cell(row),
            cited_text_cell(row), notes_cell(row), row.failure]


# --- .jsonl ------------------------------------------------------------------------------------------


def write_jsonl(result: BatchResult, path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in result.rows:
            f.write(json.dumps(row.answer_dict(), ensure_ascii=False) + "\n")


# --- .csv --------------------------------------------------------------------------------------------


def write_csv(result: BatchResult, path: Path) -> None:
    # UTF-8 with a byte-order mark, so that Excel opening the file reads ¶ and curly quotes right.
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f)
        out.writerow(TABLE_HEADER)
        for row in result.rows:
            out.writerow([neutralise(v) for v in _table_row(row)])


# --- .xlsx -------------------------------------------------------------------------------------------


def _xlsx_text(value: str) -> str:
    value = _XML_ILLEGAL.sub("", value)
    if len(value) > XLSX_CELL_LIMIT:
        value = value[: XLSX_CELL_LIMIT - 1] + "…"
    return value


def _set_text(cell, value: str) -> None:
    """Store `value` as a text cell, whatever it starts with: never a formula, no visible apostrophe.
    (openpyxl makes "=..." a formula; the string type and Excel's quotePrefix keep it text.)"""
    cell.value = value
    if value.startswith(FORMULA_STARTS):
        cell.data_type = "s"
        cell.quotePrefix = True


def append_row(ws, values: list) -> list:
    """Append `values` to the sheet, every string as a safe text cell (cleaned, never a formula);
    returns the row's cells."""
    ws.append([None if isinstance(v, str) else v for v in values])
    cells = list(ws[ws.max_row])
    for cell, value in zip(cells, values):
        if isinstance(value, str):
            _set_text(cell, _xlsx_text(value))
    return cells


def write_xlsx(result: BatchResult, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    wrap = Alignment(wrap_text=True, vertical="top")
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDE5F0")
    status_fill = {
        ANSWERED: PatternFill("solid", fgColor="E2F0D9"),
        ABSTAINED: PatternFill("solid", fgColor="FFF2CC"),
        FAILED: PatternFill("solid", fgColor="F8CBAD"),
    }

    def sheet_with(ws, header: list[str], widths: list[int]) -> None:
        ws.append(header)
        for i, width in enumerate(widths, start=1):
            ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = width
            cell = ws.cell(row=1, column=i)
            cell.font, cell.fill, cell.alignment = bold, fill, wrap
        ws.freeze_panes = "A2"

    def append(ws, values: list) -> None:
        for cell in append_row(ws, values):
            cell.alignment = wrap

    wb = Workbook()
    ws = wb.active
    ws.title = "Answers"
    sheet_with(ws, TABLE_HEADER, [10, 45, 16, 70, 40, 90, 35, 35])
    for row in result.rows:
        append(ws, _table_row(row))
        ws.cell(row=ws.max_row, column=3).fill = status_fill[row.status]
    ws.auto_filter.ref = f"A1:H{ws.max_row}"

    src = wb.create_sheet("Sources")
    sheet_with(src, ["paragraph id", "document", "title", "¶", "page", "publisher", "date", "URL", "text", "cited by"],
               [34, 30, 45, 6, 6, 22, 12, 35, 90, 20])
    for c, cited_by in cited_paragraphs(result):
        append(src, [c.paragraph_id, c.document_id, c.title, c.paragraph, c.page or "", c.publisher, c.date, c.url,
                     c.text, ", ".join(cited_by)])
    src.auto_filter.ref = f"A1:J{max(src.max_row, 1)}"

    about = wb.create_sheet("About")
    about.column_dimensions["A"].width = 22
    about.column_dimensions["B"].width = 90
    counts = result.counts()
    for key, value in [
        ("questions file", result.source),
        ("made", datetime.now().strftime("%Y-%m-%d %H:%M")),
        ("collections searched", ", ".join(result.collections or []) or "all"),
        ("questions", len(result.rows)),
        (ANSWERED, counts[ANSWERED]),
        (f"{ABSTAINED} (not in the sources)", counts[ABSTAINED]),
        (FAILED, counts[FAILED]),
        ("duplicates (answered once)", result.duplicates),
        ("blank rows skipped", result.blank),
        ("notes", "\n".join(result.notes)),
    ]:
        append(about, [key, value])
        about.cell(row=about.max_row, column=1).font = bold
    wb.save(path)


# --- .docx -------------------------------------------------------------------------------------------


def docx_text(value: str) -> str:
    return _XML_ILLEGAL.sub("", value)


def write_docx(result: BatchResult, path: Path) -> None:
    import docx
    from docx.shared import Pt

    document = docx.Document()
    document.core_properties.title = f"Answers to {result.source}"
    document.add_heading(docx_text(f"Answers to the questions in {result.source}"), level=0)
    intro = document.add_paragraph()
    intro.add_run(f"Made {datetime.now().strftime('%d %B %Y')} from the sources"
                  f"{' in ' + ', '.join(result.collections) if result.collections else ''}. ")
    intro.add_run(result.summary() + ". ")
    intro.add_run("Each answer cites the paragraphs it rests on; the cited paragraphs are quoted under it, "
                  "the quoted sentences in bold. Review before use.").italic = True

    for row in result.rows:
        document.add_heading(docx_text(_heading(row)), level=1)
        if row.duplicate_of:
            document.add_paragraph().add_run(f"The same question as {row.duplicate_of}.").italic = True
        if row.status == FAILED:
            p = document.add_paragraph()
            p.add_run("Not answered (failed): ").bold = True
            p.add_run(docx_text(row.failure))
            continue
        answer = row.answer
        p = document.add_paragraph()
        if answer.abstained:
            p.add_run(docx_text(answer.answer)).bold = True
            if answer.nearest:
                document.add_paragraph().add_run("The nearest passages (they do not answer the question):").italic = True
                for n in answer.nearest:
                    snippet = n.text if len(n.text) <= 200 else n.text[:200] + "…"
                    document.add_paragraph(docx_text(f"{n.title} ({n.paragraph_id}): {snippet}"), style="List Bullet")
            continue
        p.add_run(docx_text(answer.answer))
        if answer.notice:
            document.add_paragraph().add_run(docx_text(answer.notice)).italic = True
        for c in answer.citations:
            label = document.add_paragraph()
            label.paragraph_format.space_after = Pt(2)
            label.add_run(f"[{c.marker}] ").bold = True
            label.add_run(docx_text(f"{citation_label(c)}" + (f" — reader comment by {c.comment_by}" if c.comment_by else "")
                                     + f" ({c.paragraph_id})"))
            quote = document.add_paragraph(style="Quote")
            text = docx_text(c.text)
            at = 0
            for start, end in quote_spans(text, docx_text(c.quote)):
                if start > at:
                    quote.add_run(text[at:start])
                quote.add_run(text[start:end]).bold = True
                at = end
            if at < len(text):
                quote.add_run(text[at:])

    document.add_heading("Sources", level=1)
    sources = cited_documents(result)
    if not sources:
        document.add_paragraph("No paragraph was cited.")
    for c, locations in sources:
        document.add_paragraph(docx_text(_source_line(c, locations)), style="List Number")
    document.save(path)


# --- .md ---------------------------------------------------------------------------------------------


def _md(text: str) -> str:
    """Source text is data: no HTML tags or Markdown links may come alive when the file is rendered."""
    return text.replace("<", "&lt;").replace(">", "&gt;")


def write_md(result: BatchResult, path: Path) -> None:
    out = io.StringIO()
    out.write(f"# Answers to the questions in {_md(result.source)}\n\n")
    out.write(f"{datetime.now().strftime('%d %B %Y')}. {result.summary()}.\n")
    for row in result.rows:
        out.write(f"\n## {_md(_heading(row))}\n\n")
        out.write(f"*Status: {row.status}*")
        if row.duplicate_of:
            out.write(f" *(the same question as {_md(row.duplicate_of)})*")
        out.write("\n\n")
        if row.status == FAILED:
            out.write(f"**Not answered (failed):** {_md(row.failure)}\n")
            continue
        out.write(_md(row.answer.answer) + "\n")
        if row.answer.abstained and row.answer.nearest:
            out.write("\n*The nearest passages (they do not answer the question):*\n\n")
            for n in row.answer.nearest:
                snippet = n.text if len(n.text) <= 200 else n.text[:200] + "…"
                out.write(f"- {_md(n.title)} (`{n.paragraph_id}`): {_md(snippet)}\n")
        if row.answer.notice:
            out.write(f"\n*{_md(row.answer.notice)}*\n")
        for c in row.answer.citations:
            out.write(f"\n[{c.marker}] {_md(citation_label(c))} (`{c.paragraph_id}`)\n\n")
            out.write("> " + _md(c.text).replace("\n", "\n> ") + "\n")
    out.write("\n## Sources\n\n")
    sources = cited_documents(result)
    if not sources:
        out.write("No paragraph was cited.\n")
    for i, (c, locations) in enumerate(sources, start=1):
        out.write(f"{i}. {_md(_source_line(c, locations))}\n")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(out.getvalue())
