"""Writing a review out: .docx (the signed-off answers, for the consultation response) and .xlsx
(one row per item, for tracking), and the audit log as CSV or JSON lines.

Only approved items are written as answers in the .docx; every other item is listed under
"Outstanding" with its status, never its draft text. Cell and run text is cleaned as the batch
writers clean it (no formulas, no XML-illegal characters).
"""

from __future__ import annotations

import csv
import io
import json

from assistant.answer import Citation
from assistant.review.records import APPROVED, AuditEntry, Review, ReviewItem

XLSX_HEADER = ["position", "id", "question", "status", "answer", "citations", "reviewer", "approved_at",
               "override", "stale", "unsupported", "contradicted"]
AUDIT_COLUMNS = ["id", "review_id", "item_id", "actor", "at", "field", "before", "after"]


def _approved_citations(item: ReviewItem) -> list[Citation]:
    """The item's citations in the order of its approved paragraph ids (marker n = n-th id)."""
    by_id = {c.paragraph_id: c for c in item.citations}
    return [by_id[pid] for pid in item.approved_citations if pid in by_id]


def citations_text(item: ReviewItem) -> str:
    from assistant.batch.writers import citation_label

    return "; ".join(f"[{c.marker}] {citation_label(c)} ({c.paragraph_id})" for c in item.citations)


def write_docx(review: Review) -> bytes:
    import docx

    from assistant.batch.writers import docx_text as clean

    document = docx.Document()
    document.add_heading(clean(review.name), level=0)
    approved = [i for i in review.items if i.status == APPROVED]
    outstanding = [i for i in review.items if i.status != APPROVED]
    document.add_paragraph(clean(
        f"{len(approved)} of {len(review.items)} answers signed off; {len(outstanding)} outstanding. "
        f"Review created by {review.created_by} on {review.created_at}."))
    sources: dict[str, Citation] = {}
    for item in approved:
        document.add_heading(clean(f"{item.question_id}. {item.question}"), level=1)
        document.add_paragraph(clean(item.approved_answer or ""))
        for c in _approved_citations(item):
            sources.setdefault(c.document_id, c)
            document.add_paragraph(clean(f"[{c.marker}] {c.title}, {c.location}: “{c.text}”"), style="Quote")
    if sources:
        document.add_heading("Sources", level=1)
        for c in sources.values():
            line = ", ".join(part for part in (c.title, c.publisher, c.date, c.url) if part)
            document.add_paragraph(clean(line), style="List Bullet")
    _sign_off_table(document, approved, clean)
    if outstanding:
        document.add_heading("Outstanding", level=1)
        for item in outstanding:
            flag = ", sources changed" if item.stale else ""
            document.add_paragraph(clean(f"{item.question_id}. {item.question} ({item.status}{flag})"), style="List Bullet")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _sign_off_table(document, approved: list[ReviewItem], clean) -> None:
    document.add_heading("Sign-off", level=1)
    table = document.add_table(rows=1, cols=4)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ("Question", "Reviewer", "Approved at", "Override")):
        cell.text = text
    for item in approved:
        cells = table.add_row().cells
        values = (f"{item.question_id}. {item.question}", item.reviewer or "", item.approved_at or "",
                  "yes: approved with unsupported sentences" if item.override else "no")
        for cell, text in zip(cells, values):
            cell.text = clean(text)


def write_xlsx(review: Review) -> bytes:
    from openpyxl import Workbook

    from assistant.batch.writers import append_row

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Review"
    sheet.append(XLSX_HEADER)
    for item in review.items:
        answer = item.approved_answer if item.status == APPROVED else item.answer
        values = [item.position, item.question_id, item.question, item.status, answer or "", citations_text(item),
                  item.reviewer or "", item.approved_at or "", "yes" if item.override else "no",
                  "yes" if item.stale else "no", " | ".join(item.unsupported), " | ".join(item.contradicted)]
        append_row(sheet, values)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def write_audit(entries: list[AuditEntry], fmt: str) -> bytes:
    if fmt == "jsonl":
        return "".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in entries).encode()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(AUDIT_COLUMNS)
    for e in entries:
        writer.writerow([_csv_safe(v) for v in (e.id, e.review_id, e.item_id, e.actor, e.at, e.field, e.before, e.after)])
    return out.getvalue().encode()


def _csv_safe(value) -> str:
    from assistant.batch.writers import neutralise

    return "" if value is None else neutralise(str(value))
