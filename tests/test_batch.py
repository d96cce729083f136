"""Batch answering (issue 5), on real files through the real libraries: every input format read,
every output format written and read back (openpyxl, python-docx, csv, json), resume after a
SIGKILLed `assistant batch`, formula injection, bad input, the thread pool, POST /api/batch on a real
uvicorn server, and the batch tab's pieces."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, free_port, run_cli
from serving_helpers import (  # noqa: F401 - fixtures
    SECRET_DOC,
    SECRET_QUESTION,
    ServerThread,
    launch_chromium,
    served_assistant,
    served_corpus,
    upload_file,
    wait_ready,
)

ANSWERABLE = "Who is David Dalton?"
UNANSWERABLE = "What is the capital of France?"


# --- making input files with the real libraries ----------------------------------------------------


def make_xlsx(path: Path, rows: list[list]) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def make_docx_list(path: Path, items: list[str], style: str = "List Number", intro: bool = True) -> Path:
    import docx

    d = docx.Document()
    if intro:
        d.add_heading("Consultation questions", level=1)
        d.add_paragraph("Please answer the following.")
    for item in items:
        d.add_paragraph(item, style=style)
    d.add_paragraph("Thank you.")
    d.save(path)
    return path


def make_docx_table(path: Path, rows: list[list[str]], bold_header: bool = False) -> Path:
    import docx

    d = docx.Document()
    d.add_paragraph("Questions for the review")
    table = d.add_table(rows=len(rows), cols=len(rows[0]))
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            cell = table.cell(r, c)
            cell.text = ""
            run = cell.paragraphs[0].add_run(value)
            run.bold = bold_header and r == 0
    d.save(path)
    return path


def texts(qs) -> list[str]:
    return [q.text for q in qs.questions]


# --- reading -----------------------------------------------------------------------------------------


def test_read_csv_question_and_id_columns_case_insensitive(tmp_path):
    from assistant.batch.readers import read_questions

    p = tmp_path / "q.csv"
    p.write_text("Ref,ID,QUESTION\nx,A1,What is NHS Improvement?\ny,,\nz,A3,  Who is David Dalton?  \n", encoding="utf-8")
    qs = read_questions(p)
    assert texts(qs) == ["What is NHS Improvement?", "Who is David Dalton?"]
    assert [q.id for q in qs.questions] == ["A1", "A3"]
    assert qs.blank == 1 and qs.column == "QUESTION"


def test_read_csv_first_text_column_semicolons_and_bom(tmp_path):
    from assistant.batch.readers import read_questions

    p = tmp_path / "q.csv"
    p.write_bytes("\ufeffNo;Text;Score\n1;What is NHS Improvement?;3\n2;Who is David Dalton?;4\n".encode("utf-8"))
    qs = read_questions(p)
    assert texts(qs) == ["What is NHS Improvement?", "Who is David Dalton?"]
    assert [q.id for q in qs.questions] == ["q1", "q2"]
    assert any("'Text'" in n for n in qs.notes)


def test_read_csv_without_header_keeps_the_first_question(tmp_path):
    from assistant.batch.readers import read_questions

    p = tmp_path / "q.csv"
    p.write_text("What is NHS Improvement?\nWho is David Dalton?\n", encoding="utf-8")
    assert texts(read_questions(p)) == ["What is NHS Improvement?", "Who is David Dalton?"]


def test_read_csv_unquoted_comma_in_a_question_loses_nothing(tmp_path):
    from assistant.batch.readers import read_questions
    from assistant.batch.records import BadInput

    p = tmp_path / "q.csv"
    p.write_text("question\nWhat is NHS Improvement?\nAccording to the comments, where is there untapped potential?\n", encoding="utf-8")
    qs = read_questions(p)
    assert texts(qs) == ["What is NHS Improvement?", "According to the comments, where is there untapped potential?"]
    assert any("unquoted ','" in n for n in qs.notes)
    p.write_text("id,question\nA1,What is NHS Improvement?,\nA2,Who is David Dalton?\n", encoding="utf-8")
    assert texts(read_questions(p)) == ["What is NHS Improvement?", "Who is David Dalton?"]  # a trailing empty cell is no question
    # The question column is not the last: which cells belong to it cannot be known, so the file is refused.
    p.write_text("question,id\nAccording to the Times, what were leaders told?,A1\nWho is David Dalton?,A2\n", encoding="utf-8")
    with pytest.raises(BadInput, match="row 2: 3 cells where the header has 2"):
        read_questions(p)


def test_read_xlsx_title_row_numeric_ids_blank_and_trailing_rows(tmp_path):
    from assistant.batch.readers import read_questions

    p = make_xlsx(tmp_path / "q.xlsx", [
        ["Consultation on NHS reform"], [], ["Id", "Question"],
        [1, "What is NHS Improvement?"], [2, None], [3, "Who is David Dalton?"], [None, None], [None, None],
    ])
    qs = read_questions(p)
    assert texts(qs) == ["What is NHS Improvement?", "Who is David Dalton?"]
    assert [q.id for q in qs.questions] == ["1", "3"]
    assert qs.blank == 1  # row "2" with no question; trailing empty rows are not counted


def test_read_txt_and_jsonl(tmp_path):
    from assistant.batch.readers import read_questions

    t = tmp_path / "q.txt"
    t.write_text("What is NHS Improvement?\n\n   \nWho is David Dalton?\n", encoding="utf-8")
    qs = read_questions(t)
    assert texts(qs) == ["What is NHS Improvement?", "Who is David Dalton?"] and qs.blank == 2

    j = tmp_path / "q.jsonl"
    j.write_text('{"id": "a", "question": "What is NHS Improvement?"}\n\n{"id": 7, "question": "Who is David Dalton?"}\n'
                 '{"question": ""}\n{"question": "Why does Jeremy Hunt matter?"}\n', encoding="utf-8")
    qs = read_questions(j)
    assert [(q.id, q.text) for q in qs.questions] == [
        ("a", "What is NHS Improvement?"), ("7", "Who is David Dalton?"), ("q3", "Why does Jeremy Hunt matter?")]
    assert qs.blank == 2


@pytest.mark.parametrize("style", ["List Number", "List Bullet"])
def test_read_docx_list_items(tmp_path, style):
    from assistant.batch.readers import read_questions

    p = make_docx_list(tmp_path / "q.docx", ["What is NHS Improvement?", "Who is David Dalton?"], style=style)
    qs = read_questions(p)
    assert texts(qs) == ["What is NHS Improvement?", "Who is David Dalton?"]  # heading, intro and thanks left out


def test_read_docx_typed_numbering(tmp_path):
    import docx

    from assistant.batch.readers import read_questions

    d = docx.Document()
    d.add_paragraph("Questions")
    d.add_paragraph("1. What is NHS Improvement?")
    d.add_paragraph("2) Who is David Dalton?")
    d.save(tmp_path / "q.docx")
    assert texts(read_questions(tmp_path / "q.docx")) == ["What is NHS Improvement?", "Who is David Dalton?"]


def test_read_docx_tables(tmp_path):
    from assistant.batch.readers import read_questions

    with_header = make_docx_table(tmp_path / "a.docx", [["ID", "Question"], ["Q1", "What is NHS Improvement?"],
                                                        ["Q2", "Who is David Dalton?"]])
    qs = read_questions(with_header)
    assert [(q.id, q.text) for q in qs.questions] == [("Q1", "What is NHS Improvement?"), ("Q2", "Who is David Dalton?")]

    plain = make_docx_table(tmp_path / "b.docx", [["What is NHS Improvement?", "notes"], ["Who is David Dalton?", ""]])
    assert texts(read_questions(plain)) == ["What is NHS Improvement?", "Who is David Dalton?"]

    bold = make_docx_table(tmp_path / "c.docx", [["Topics"], ["What is NHS Improvement?"]], bold_header=True)
    assert texts(read_questions(bold)) == ["What is NHS Improvement?"]


# --- bad input ---------------------------------------------------------------------------------------


def _bad_inputs(tmp_path: Path) -> list[tuple[Path, list[str], str]]:
    import docx

    cases = []
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    cases.append((empty, [], "is empty"))
    header_only = tmp_path / "header.xlsx"
    make_xlsx(header_only, [["id", "question"]])
    cases.append((header_only, [], "has no questions"))
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("id,score\n1,2\n3,4\n", encoding="utf-8")
    cases.append((numbers, [], "no question column"))
    latin = tmp_path / "latin.csv"
    latin.write_bytes("question\nWhat did the Secretary of State say about the NHS’s ‘culture’ — café?\n".encode("cp1252"))
    cases.append((latin, [], "is not UTF-8"))
    prose = tmp_path / "prose.docx"
    d = docx.Document()
    d.add_paragraph("Just a paragraph, no list, no table.")
    d.save(prose)
    cases.append((prose, [], "no numbered or bulleted list and no table"))
    many = tmp_path / "many.txt"
    many.write_text("".join(f"Question number {i}?\n" for i in range(6)), encoding="utf-8")
    cases.append((many, ["--max-rows", "5"], "more than 5 questions"))
    badjson = tmp_path / "bad.jsonl"
    badjson.write_text('{"question": "What is NHS Improvement?"}\n{"question": \n', encoding="utf-8")
    cases.append((badjson, [], "line 2: not JSON"))
    dup_ids = tmp_path / "dups.csv"
    dup_ids.write_text("id,question\n1,What is NHS Improvement?\n1,Who is David Dalton?\n", encoding="utf-8")
    cases.append((dup_ids, [], "is used twice"))
    notdocx = tmp_path / "fake.docx"
    notdocx.write_text("not a zip", encoding="utf-8")
    cases.append((notdocx, [], "not a readable .docx"))
    odd = tmp_path / "q.pdf"
    odd.write_text("x", encoding="utf-8")
    cases.append((odd, [], "unsupported questions file type"))
    return cases


def test_bad_inputs_give_a_message_exit_2_and_write_nothing(tmp_path, capsys):
    from assistant.cli import main

    for path, extra, message in _bad_inputs(tmp_path):
        out = tmp_path / "out" / f"{path.stem}.xlsx"
        code = main(["batch", str(path), "--out", str(out), "--data-dir", str(tmp_path / "no-index"), *extra])
        err = capsys.readouterr().err
        assert code == 2, (path.name, err)
        assert message in err and err.startswith("error: "), (path.name, err)
        assert not (tmp_path / "out").exists(), path.name  # nothing half-written, not even the folder


def test_non_utf8_csv_message_names_the_encoding(tmp_path):
    from assistant.batch.readers import read_questions
    from assistant.batch.records import BadInput

    p = tmp_path / "latin.csv"
    p.write_bytes(("question\n" + "What did the Secretary of State say about the NHS’s ‘culture’ — and the café? " * 3 + "\n").encode("cp1252"))
    with pytest.raises(BadInput) as info:
        read_questions(p)
    assert "it looks like" in str(info.value) and "UTF-8" in str(info.value)


def test_bad_output_name_and_bad_input_through_the_real_command(tmp_path):
    q = tmp_path / "q.txt"
    q.write_text(f"{ANSWERABLE}\n", encoding="utf-8")
    result = run_cli("batch", str(q), "--out", str(tmp_path / "answers.pdf"), data_dir=tmp_path / "none", timeout=120)
    assert result.returncode == 2 and "unsupported output type '.pdf'" in result.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    result = run_cli("batch", str(empty), "--out", str(tmp_path / "a.xlsx"), data_dir=tmp_path / "none", timeout=120)
    assert result.returncode == 2 and "has no questions (2 blank)" in result.stderr
    assert not (tmp_path / "a.xlsx").exists() and not (tmp_path / "a.xlsx.checkpoint.jsonl").exists()


# --- answering and writing -----------------------------------------------------------------------------

QUESTIONS_TXT = f"""{ANSWERABLE}
What is NHS Improvement?

{UNANSWERABLE}
what is   NHS improvement?
=HYPERLINK("http://evil.example","click") Who is David Dalton?
"""


@pytest.fixture(scope="module")
def batch_result(assistant, tmp_path_factory):
    from assistant.batch.readers import read_questions
    from assistant.batch.runner import run_batch

    work = tmp_path_factory.mktemp("batch")
    (work / "q.txt").write_text(QUESTIONS_TXT, encoding="utf-8")
    qs = read_questions(work / "q.txt")
    return run_batch(assistant, qs, work / "out.checkpoint.jsonl")


def test_rows_statuses_duplicates_and_blanks(batch_result):
    from assistant.answer import ABSTAINED, ANSWERED

    rows = {r.question.text: r for r in batch_result.rows}
    assert len(batch_result.rows) == 5 and batch_result.blank == 1 and batch_result.duplicates == 1
    assert rows[ANSWERABLE].status == ANSWERED and rows[ANSWERABLE].answer.citations
    assert rows[UNANSWERABLE].status == ABSTAINED and not rows[UNANSWERABLE].answer.citations
    # one status vocabulary: the .xlsx/.csv/.md status is the Answer JSON's (.jsonl) status
    assert all(r.status == r.answer_dict()["status"] for r in batch_result.rows)
    dup = rows["what is   NHS improvement?"]
    assert dup.duplicate_of == "q2" and dup.answer.answer == rows["What is NHS Improvement?"].answer.answer
    assert batch_result.answered_now == 4  # the duplicate was not asked again
    assert "1 duplicate answered once" in batch_result.summary() and "1 blank row skipped" in batch_result.summary()


def test_jsonl_is_one_answer_json_a_line(batch_result, tmp_path):
    from assistant.answer import Answer
    from assistant.batch.writers import write_output

    out = write_output(batch_result, tmp_path / "a.jsonl")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(batch_result.rows)
    for line, row in zip(lines, batch_result.rows):
        data = json.loads(line)
        expected = row.answer.to_dict()
        expected["id"] = row.question.id
        expected["question"] = row.question.text  # the duplicate's own wording
        assert data == expected
        assert set(data) >= {"id", "question", "answer", "status", "abstained", "citations", "searched_for", "timings_ms"}
        assert data["status"] == ("abstained" if data["abstained"] else "answered")
        assert Answer.from_dict(data).citations == row.answer.citations
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed, not left behind


def test_xlsx_for_reviewers(batch_result, tmp_path):
    from openpyxl import load_workbook

    from assistant.batch.writers import TABLE_HEADER, write_output

    out = write_output(batch_result, tmp_path / "a.xlsx")
    wb = load_workbook(out)
    assert wb.sheetnames[:2] == ["Answers", "Sources"]
    ws = wb["Answers"]
    assert [c.value for c in ws[1]] == TABLE_HEADER
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["D"].width >= 50 and ws.column_dimensions["A"].width <= 15
    body = list(ws.iter_rows(min_row=2))
    assert len(body) == len(batch_result.rows)
    cited: dict[str, object] = {}
    for cells, row in zip(body, batch_result.rows):
        values = {h: c.value or "" for h, c in zip(TABLE_HEADER, cells)}
        assert all(c.alignment.wrap_text for c in cells)
        assert values["id"] == row.question.id and values["status"] == row.status
        assert values["answer"] == row.answer.answer
        for c in row.answer.citations:
            assert f"[{c.marker}] {c.title}, ¶{c.paragraph}" in values["citations"]
            assert c.text in values["cited paragraphs"]
            cited[c.paragraph_id] = c
        if row.duplicate_of:
            assert f"same question as {row.duplicate_of}" in values["notes"]
    assert cited, "the answerable questions cite paragraphs"
    src = wb["Sources"]
    header = [c.value for c in src[1]]
    assert header[:3] == ["paragraph id", "document", "title"] and "URL" in header
    listed = [r[0].value for r in src.iter_rows(min_row=2)]
    assert sorted(listed) == sorted(cited) and len(listed) == len(set(listed))  # each cited paragraph once
    for r in src.iter_rows(min_row=2, values_only=True):
        c = cited[r[0]]
        assert r[1] == c.document_id and r[2] == c.title and (r[header.index("URL")] or "") == c.url
    assert src.freeze_panes == "A2"


def test_docx_response_document(batch_result, tmp_path):
    import docx

    from assistant.batch.writers import write_output

    out = write_output(batch_result, tmp_path / "a.docx")
    d = docx.Document(str(out))
    paragraphs = d.paragraphs
    headings = [p.text for p in paragraphs if p.style.name == "Heading 1"]
    for row in batch_result.rows:
        assert f"{row.question.id}: {row.question.text}" in headings
    assert headings[-1] == "Sources"
    body = [p.text for p in paragraphs]
    quotes = [p for p in paragraphs if p.style.name == "Quote"]
    for row in batch_result.rows:
        if not row.answer.citations:
            continue
        assert row.answer.answer in body
        for c in row.answer.citations:
            assert any(t.startswith(f"[{c.marker}] {c.title}, ¶{c.paragraph}") for t in body)
            quote = next(q for q in quotes if q.text == c.text)
            bold = " … ".join(r.text for r in quote.runs if r.bold)
            assert bold == c.quote or all(part in c.text for part in c.quote.split(" … "))
            assert "".join(r.text for r in quote.runs if r.bold) == "".join(c.quote.split(" … "))
    sources_at = body.index("Sources")
    listed = [p.text for p in paragraphs[sources_at + 1:] if p.style.name == "List Number"]
    titles = {c.title for r in batch_result.rows for c in r.answer.citations}
    assert len(listed) == len(titles) and all(any(t in line for line in listed) for t in titles)


def test_csv_and_md_plain_forms(batch_result, tmp_path):
    from assistant.batch.writers import TABLE_HEADER, write_output

    out = write_output(batch_result, tmp_path / "a.csv")
    with open(out, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == TABLE_HEADER and len(rows) == len(batch_result.rows) + 1
    for values, row in zip(rows[1:], batch_result.rows):
        assert values[0] == row.question.id and values[2] == row.status
        for c in row.answer.citations:
            assert f"{c.title}, ¶{c.paragraph}" in values[4]

    md = write_output(batch_result, tmp_path / "a.md").read_text(encoding="utf-8")
    for row in batch_result.rows:
        assert f"## {row.question.id}: " in md
        for c in row.answer.citations:
            assert f"(`{c.paragraph_id}`)" in md
    assert "## Sources" in md
    assert "<" not in md.replace("&lt;", "")  # no raw tag can come alive when rendered


def test_formula_injection_is_neutralised_in_csv_and_xlsx(assistant, tmp_path):
    """.csv: a leading apostrophe (a CSV cell has no type). .xlsx: a typed text cell holding exactly the
    user's text (no visible apostrophe), never a formula, with Excel's hidden quote prefix."""
    from openpyxl import load_workbook

    from assistant.batch.readers import read_questions
    from assistant.batch.runner import run_batch
    from assistant.batch.writers import neutralise, write_output

    dangerous = ['=HYPERLINK("http://evil.example","x")', "+1+1 and NHS", "-2+3 what?", "@SUM(A1:A2)", "\t=1+1 tab"]
    p = tmp_path / "q.jsonl"
    p.write_text("".join(json.dumps({"id": f"={i}", "question": q}) + "\n" for i, q in enumerate(dangerous)), encoding="utf-8")
    qs = read_questions(p)
    qs.questions = [type(q)(id=q.id, text=t, where=q.where) for q, t in zip(qs.questions, dangerous)]  # keep the tab
    result = run_batch(assistant, qs, tmp_path / "c.jsonl")

    ws = load_workbook(write_output(result, tmp_path / "a.xlsx"))["Answers"]
    cells = [c for row in ws.iter_rows(min_row=2) for c in row if c.value]
    assert cells and all(c.data_type != "f" for c in cells)
    for row_cells, (i, text) in zip(ws.iter_rows(min_row=2), enumerate(dangerous)):
        id_cell, question_cell = row_cells[0], row_cells[1]
        assert (id_cell.value, id_cell.data_type) == (f"={i}", "s")
        assert (question_cell.value, question_cell.data_type) == (text, "s")
        assert question_cell.quotePrefix and id_cell.quotePrefix
    for c in cells:
        assert not str(c.value).startswith("'")  # the user's text, no apostrophe shown

    with open(write_output(result, tmp_path / "a.csv"), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))[1:]
    for values, text in zip(rows, dangerous):
        assert values[0].startswith("'=") and values[1] == "'" + text
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in values)
    assert neutralise("fine") == "fine" and neutralise("-x") == "'-x" and neutralise("\rx") == "'\rx"


def test_failing_question_is_recorded_and_the_rest_go_on(assistant, tmp_path):
    from assistant.batch.readers import read_questions
    from assistant.batch.records import FAILED
    from assistant.batch.runner import run_batch

    too_long = "Why " + "really " * 400 + "?"
    p = tmp_path / "q.txt"
    p.write_text(f"{ANSWERABLE}\n{too_long}\n{UNANSWERABLE}\n", encoding="utf-8")
    qs = read_questions(p)
    result = run_batch(assistant, qs, tmp_path / "ck.jsonl")
    statuses = [r.status for r in result.rows]
    assert statuses[1] == FAILED and FAILED not in (statuses[0], statuses[2])
    assert "the limit is" in result.rows[1].error
    _assert_failed_in_every_format(result, 1, "the limit is", tmp_path)

    again = run_batch(assistant, qs, tmp_path / "ck.jsonl")  # a re-run retries only the failed one
    assert again.resumed == 2 and again.answered_now == 1


def _assert_failed_in_every_format(result, index: int, reason: str, tmp_path: Path) -> None:
    """Row `index` of `result` failed: every output format says `failed` and gives the error; none
    records it as a plain answer (abstained false, empty text)."""
    import docx
    from openpyxl import load_workbook

    from assistant.batch.writers import OUTPUT_SUFFIXES, TABLE_HEADER, write_output

    assert set(OUTPUT_SUFFIXES) == {".jsonl", ".xlsx", ".docx", ".csv", ".md"}  # a new format gets a check here
    answered = next(i for i, r in enumerate(result.rows) if r.status == "answered")
    lines = write_output(result, tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()
    line, good = json.loads(lines[index]), json.loads(lines[answered])
    assert line["status"] == "failed" and reason in line["error"]
    assert not (line["abstained"] is False and not line["answer"])
    assert line["abstained"] is True and line["citations"] == []
    assert good["status"] == "answered" and "error" not in good
    ws = load_workbook(write_output(result, tmp_path / "a.xlsx"))["Answers"]
    assert [c.value for c in ws[1]] == TABLE_HEADER
    row = {h: c.value for h, c in zip(TABLE_HEADER, ws[index + 2])}
    assert row["status"] == "failed" and reason in row["error"]
    assert {h: c.value for h, c in zip(TABLE_HEADER, ws[answered + 2])}["error"] in (None, "")
    with open(write_output(result, tmp_path / "a.csv"), encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[index]["status"] == "failed" and reason in rows[index]["error"] and rows[answered]["error"] == ""
    body = [p.text for p in docx.Document(str(write_output(result, tmp_path / "a.docx"))).paragraphs]
    assert any(t.startswith("Not answered (failed): ") and reason in t for t in body)
    md = write_output(result, tmp_path / "a.md").read_text(encoding="utf-8")
    section = md.split(f"## {result.rows[index].question.id}: ")[1].split("\n## ")[0]
    assert "*Status: failed*" in section and "**Not answered (failed):**" in section and reason in section


class TimingOutAssistant:
    """Stand-in for an Assistant whose LLM call times out by raising (the real one falls back to the
    extractive answer, so a raising answerer cannot be produced here): every question containing
    'timeout' raises TimeoutError; the others go to the real Assistant."""

    def __init__(self, real):
        self.real = real

    def ask(self, question, **kwargs):
        if "timeout" in question:
            raise TimeoutError("the LLM server did not answer within 30 s")
        return self.real.ask(question, **kwargs)


def test_any_exception_while_answering_is_recorded_as_failed(assistant, tmp_path):
    from assistant.batch.readers import read_questions
    from assistant.batch.runner import run_batch

    p = tmp_path / "q.txt"
    p.write_text(f"{ANSWERABLE}\nWhat about the timeout question?\n", encoding="utf-8")
    result = run_batch(TimingOutAssistant(assistant), read_questions(p), tmp_path / "ck.jsonl")
    assert [r.status for r in result.rows] == ["answered", "failed"]
    assert result.counts()["failed"] == 1 and "1 failed" in result.summary()
    _assert_failed_in_every_format(result, 1, "TimeoutError: the LLM server did not answer", tmp_path)


def test_resume_skips_answered_questions_and_force_redoes(assistant, tmp_path):
    from assistant.batch.checkpoint import Checkpoint
    from assistant.batch.readers import read_questions
    from assistant.batch.runner import run_batch

    p = tmp_path / "q.txt"
    p.write_text(f"{ANSWERABLE}\nWhat is NHS Improvement?\n", encoding="utf-8")
    ck = tmp_path / "out.xlsx.checkpoint.jsonl"
    first = run_batch(assistant, read_questions(p), ck)
    assert first.answered_now == 2 and first.resumed == 0
    p.write_text(f"What is NHS Improvement?\n{UNANSWERABLE}\n{ANSWERABLE}\n", encoding="utf-8")  # reordered, one new
    second = run_batch(assistant, read_questions(p), ck)
    assert second.resumed == 2 and second.answered_now == 1
    assert [r.answer.answer for r in second.rows if r.question.text == ANSWERABLE] == \
        [r.answer.answer for r in first.rows if r.question.text == ANSWERABLE]
    with open(ck, "ab") as f:  # a torn line, as a kill mid-write leaves it
        f.write(b'{"key": "half')
    assert len(Checkpoint(ck).load()) == 3
    third = run_batch(assistant, read_questions(p), ck)
    assert third.answered_now == 0 and ck.read_bytes().endswith(b"\n")
    forced = run_batch(assistant, read_questions(p), ck, force=True)
    assert forced.answered_now == 3 and forced.resumed == 0
    assert len(ck.read_text(encoding="utf-8").splitlines()) == 1 + 3  # header + one line per question


def test_checkpoint_of_other_collections_is_refused(assistant, tmp_path):
    from assistant.batch.readers import read_questions
    from assistant.batch.records import BadInput
    from assistant.batch.runner import run_batch

    p = tmp_path / "q.txt"
    p.write_text(f"{ANSWERABLE}\n", encoding="utf-8")
    run_batch(assistant, read_questions(p), tmp_path / "ck.jsonl")
    with pytest.raises(BadInput, match="same --collection"):
        run_batch(assistant, read_questions(p), tmp_path / "ck.jsonl", collections=["default"])
    (tmp_path / "other.jsonl").write_text("not a checkpoint\n", encoding="utf-8")
    with pytest.raises(BadInput, match="not a batch checkpoint"):
        run_batch(assistant, read_questions(p), tmp_path / "other.jsonl")


def test_workers_answer_concurrently_with_the_same_answers(assistant, tmp_path):
    from assistant.batch.bench import bench_questions
    from assistant.batch.readers import read_questions
    from assistant.batch.runner import run_batch

    p = tmp_path / "q.txt"
    p.write_text("\n".join(bench_questions(assistant.index, 24)) + "\n", encoding="utf-8")
    qs = read_questions(p)
    one = run_batch(assistant, qs, tmp_path / "one.jsonl", workers=1)
    seen_threads: set[str] = set()
    original = assistant.ask

    def ask(*a, **k):
        seen_threads.add(threading.current_thread().name)
        return original(*a, **k)

    assistant.ask = ask
    try:
        three = run_batch(assistant, qs, tmp_path / "three.jsonl", workers=3)
    finally:
        del assistant.ask
    assert len(seen_threads) > 1 and all(name.startswith("batch") for name in seen_threads)
    assert [r.question.id for r in three.rows] == [r.question.id for r in one.rows]
    assert [(r.answer.answer, [c.paragraph_id for c in r.answer.citations]) for r in three.rows] == \
        [(r.answer.answer, [c.paragraph_id for c in r.answer.citations]) for r in one.rows]


# --- the command, killed and resumed ---------------------------------------------------------------------


def _checkpoint_entries(path: Path) -> list[dict]:
    data = path.read_bytes()
    lines = data.split(b"\n")
    if not data.endswith(b"\n"):
        lines = lines[:-1]
    return [json.loads(line) for line in lines[1:] if line.strip()]


def _start_batch(src: Path, out: Path, data_dir: Path) -> subprocess.Popen:
    env = dict(os.environ, ASSISTANT_DATA_DIR=str(data_dir))
    env.pop("ASSISTANT_LLM_BASE_URL", None)
    # A shell's background job (`pytest ... &`) starts with SIGINT ignored, and a child inherits that, so Python
    # would never raise KeyboardInterrupt: give the batch the default disposition, as a terminal's Ctrl-C finds it.
    return subprocess.Popen([sys.executable, "-m", "assistant.cli", "batch", str(src), "--out", str(out), "-q"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _stop_when(proc: subprocess.Popen, ck: Path, entries: int, sig: int) -> str:
    """Send `sig` once the checkpoint holds `entries` answers; returns the process's standard error."""
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            if ck.exists() and len(_checkpoint_entries(ck)) >= entries:
                break
            time.sleep(0.02)
        assert proc.poll() is None, f"finished or died before the signal: {proc.stderr.read().decode()[-2000:]}"
        os.kill(proc.pid, sig)
        proc.wait(timeout=120)
        return proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)
        proc.stderr.close()


@pytest.mark.slow
def test_interrupt_and_sigkill_mid_run_then_resume_redoes_nothing(assistant, sources_data_dir, tmp_path):
    from assistant.batch.bench import bench_questions

    total = 150  # a few seconds of answering on an idle machine: each signal lands mid-run
    questions = bench_questions(assistant.index, total)
    assert len(set(q.casefold() for q in questions)) == total
    src = tmp_path / "questions.txt"
    src.write_text("\n".join(questions) + "\n", encoding="utf-8")
    out = tmp_path / "answers.jsonl"
    ck = tmp_path / "answers.jsonl.checkpoint.jsonl"

    # Ctrl-C: exit 130, a message saying how to resume, the checkpoint whole
    proc = _start_batch(src, out, sources_data_dir)
    err = _stop_when(proc, ck, 5, signal.SIGINT)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "run the same command again to resume" in err
    assert ck.read_bytes().endswith(b"\n")
    interrupted = _checkpoint_entries(ck)
    assert 5 <= len(interrupted) < total

    # SIGKILL on the resumed run: no chance to clean up
    proc = _start_batch(src, out, sources_data_dir)
    _stop_when(proc, ck, len(interrupted) + 5, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    before = _checkpoint_entries(ck)
    assert before[: len(interrupted)] == interrupted
    assert len(interrupted) + 5 <= len(before) < total, len(before)
    assert not out.exists(), "no output is written before the run completes"

    result = run_cli("batch", str(src), "--out", str(out), "-q", data_dir=sources_data_dir, timeout=900)
    assert result.returncode == 0, result.stderr
    assert f"{len(before)} answers taken from the checkpoint" in result.stdout
    after = _checkpoint_entries(ck)
    assert after[: len(before)] == before  # the saved answers were kept, not redone
    ids = [e["id"] for e in after]
    assert len(after) == total and len(set(ids)) == total  # before + after the kill = total, none twice
    assert all("answer" in e for e in after)
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [line["question"] for line in lines] == questions
    assert [line["id"] for line in lines] == [f"q{i}" for i in range(1, total + 1)]


# --- POST /api/batch on the real server ---------------------------------------------------------------

ALL = {"Authorization": "Bearer tok-all"}
PUBLIC = {"Authorization": "Bearer tok-pub"}  # scoped to the collection "default"


def message_of(response) -> str:
    data = response.json()
    return data["error"]["message"] if "error" in data else str(data.get("detail"))


@pytest.fixture(scope="module")
def batch_server(served_corpus, served_assistant):
    """The service of assistant/server.py (our router and tab included by it) under uvicorn on 127.0.0.1,
    with a full token and one scoped to "default" (the corpus also holds a "secret" collection)."""
    from assistant.config import Config
    from assistant.server import create_app

    config = Config.from_env(data_dir=served_corpus).replace(
        llm_base_url=None, api_tokens=("tok-all", "tok-pub:default"), max_upload_bytes=200_000)
    with ServerThread(create_app(config, served_assistant), free_port()) as running:
        wait_ready(running.url)
        yield running.url


def test_api_batch_returns_the_chosen_format(batch_server, tmp_path):
    import docx
    import httpx
    from openpyxl import load_workbook

    questions = make_xlsx(tmp_path / "consultation.xlsx", [["id", "question"], ["c1", ANSWERABLE], ["c2", UNANSWERABLE],
                                                           ["c3", None], ["c4", ANSWERABLE.upper()]])
    with httpx.Client(base_url=batch_server, timeout=300) as client:
        def post(fmt=None, params=None):
            return client.post("/api/batch", files={"file": (questions.name, questions.read_bytes())},
                               data={"format": fmt} if fmt else {}, headers=ALL, params=params)

        r = post("docx")
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.wordprocessingml")
        assert 'filename="consultation-answers.docx"' in r.headers["content-disposition"]
        assert (r.headers["x-batch-questions"], r.headers["x-batch-answered"], r.headers["x-batch-abstained"],
                r.headers["x-batch-failed"], r.headers["x-batch-duplicates"], r.headers["x-batch-blank"]) == \
            ("3", "2", "1", "0", "1", "1")
        (tmp_path / "a.docx").write_bytes(r.content)
        headings = [p.text for p in docx.Document(str(tmp_path / "a.docx")).paragraphs if p.style.name == "Heading 1"]
        assert f"c1: {ANSWERABLE}" in headings and f"c2: {UNANSWERABLE}" in headings

        r = post(params={"format": "jsonl"})  # the format as a query parameter
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in r.text.splitlines()]
        assert [line["id"] for line in lines] == ["c1", "c2", "c4"] and lines[0]["citations"]

        r = post()  # default: xlsx
        assert r.status_code == 200
        (tmp_path / "a.xlsx").write_bytes(r.content)
        assert [c.value for c in load_workbook(tmp_path / "a.xlsx")["Answers"]["A"]][1:] == ["c1", "c2", "c4"]

        for fmt in ("csv", "md"):
            r = post(fmt)
            assert r.status_code == 200 and ANSWERABLE in r.text


def test_api_batch_has_the_same_auth_and_collection_scoping(batch_server, tmp_path):
    import httpx

    questions = tmp_path / "q.jsonl"
    questions.write_text(json.dumps({"id": "s1", "question": SECRET_QUESTION}) + "\n", encoding="utf-8")

    def post(headers, **data):
        return httpx.post(f"{batch_server}/api/batch", files={"file": (questions.name, questions.read_bytes())},
                          data={"format": "jsonl", **data}, headers=headers, timeout=300)

    assert post({}).status_code == 401
    assert post({"Authorization": "Bearer nope"}).status_code == 401
    r = post(ALL)
    assert r.status_code == 200, r.text
    assert SECRET_DOC in {c["document_id"] for c in json.loads(r.text)["citations"]}  # the full token sees it
    r = post(PUBLIC)
    assert r.status_code == 200, r.text
    assert SECRET_DOC not in r.text  # scoped to "default": never cited, never listed as nearest
    r = post(PUBLIC, collection="secret")
    assert r.status_code == 403 and "secret" in message_of(r)
    r = post(ALL, collection="secret")
    assert r.status_code == 200 and SECRET_DOC in r.text


def test_api_batch_bad_input_and_size_limit(batch_server, tmp_path):
    import httpx

    url = f"{batch_server}/api/batch"
    bad = tmp_path / "bad.csv"
    bad.write_text("id,score\n1,2\n", encoding="utf-8")
    r = httpx.post(url, files={"file": (bad.name, bad.read_bytes())}, headers=ALL, timeout=60)
    assert r.status_code == 422 and "no question column" in message_of(r)
    r = httpx.post(url, files={"file": ("q.pdf", b"%PDF")}, headers=ALL, timeout=60)
    assert r.status_code == 422 and "unsupported" in message_of(r)
    r = httpx.post(url, files={"file": ("q.txt", ANSWERABLE.encode())}, data={"format": "pdf"}, headers=ALL, timeout=60)
    assert r.status_code == 422 and "format must be one of" in message_of(r)
    r = httpx.post(url, data={"format": "xlsx"}, headers=ALL, timeout=60)
    assert r.status_code == 422
    big = ("What is NHS Improvement?\n" * 20_000).encode()  # 500 kB, over the 200 kB limit
    r = httpx.post(url, files={"file": ("big.txt", big)}, headers=ALL, timeout=60)
    assert r.status_code == 413

    def chunks():  # no Content-Length: the limit holds while the body streams in
        boundary = b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n\r\n"
        yield boundary
        for _ in range(50):
            yield b"What is NHS Improvement?\n" * 400
        yield b"\r\n--xyz--\r\n"

    r = httpx.post(url, content=chunks(), headers={**ALL, "Content-Type": "multipart/form-data; boundary=xyz"}, timeout=60)
    assert r.status_code == 413


# --- the batch tab ---------------------------------------------------------------------------------------


def test_batch_tab_run_writes_xlsx_and_docx(assistant, tmp_path):
    import docx
    from openpyxl import load_workbook

    from assistant.auth import ANONYMOUS
    from assistant.batch.ui import run_upload

    p = make_docx_list(tmp_path / "Consultation <draft>.docx", [ANSWERABLE, UNANSWERABLE])
    seen = []
    summary, files = run_upload(assistant, assistant.config, str(p), p.name, ANONYMOUS,
                                progress=lambda done, total, elapsed: seen.append((done, total)))
    assert seen[0] == (0, 2) and seen[-1] == (2, 2)
    assert "2 questions: 1 answered, 1 abstained (not in the sources), 0 failed" in summary
    xlsx, docx_path = map(Path, files)
    assert xlsx.suffix == ".xlsx" and docx_path.suffix == ".docx" and "<" not in xlsx.name
    assert [c.value for c in load_workbook(xlsx)["Answers"]["B"]][1:] == [ANSWERABLE, UNANSWERABLE]
    assert f"q1: {ANSWERABLE}" in [p.text for p in docx.Document(str(docx_path)).paragraphs]


def test_batch_tab_builds_inside_blocks(assistant):
    gr = pytest.importorskip("gradio")
    from assistant.auth import AuthPolicy
    from assistant.batch.ui import build_batch_tab

    with gr.Blocks() as blocks:
        with gr.Tab("Batch"):
            upload, start, status, results = build_batch_tab(assistant, assistant.config,
                                                             AuthPolicy.from_config(assistant.config))
    assert isinstance(upload, gr.File) and isinstance(results, gr.File)
    assert any(getattr(fn.fn, "__name__", "") == "answer_file" for fn in blocks.fns.values())


@pytest.mark.browser
def test_batch_tab_in_the_browser_upload_progress_download(served_corpus, served_assistant, tmp_path):
    """Headless Chromium on the real server: open the Batch tab, upload a .docx of questions, see the
    progress, then download the .xlsx and the .docx and read them back."""
    import docx
    from openpyxl import load_workbook
    from playwright.sync_api import sync_playwright

    from assistant.batch.bench import bench_questions
    from assistant.config import Config
    from assistant.server import create_app

    questions = [ANSWERABLE, UNANSWERABLE] + bench_questions(served_assistant.index, 58)
    upload = make_docx_list(tmp_path / "consultation.docx", questions)
    config = Config.from_env(data_dir=served_corpus).replace(llm_base_url=None)
    with ServerThread(create_app(config, served_assistant), free_port()) as running, sync_playwright() as pw:
        wait_ready(running.url)
        browser = launch_chromium(pw)
        try:
            page = browser.new_context(accept_downloads=True).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(running.url + "/")
            page.get_by_role("tab", name="Batch").click()
            upload_file(page, "#batch-upload", upload)
            page.click("#batch-run")
            page.wait_for_function("() => /\\d+ of 60 answered/.test(document.body.innerText)", timeout=120_000)
            page.wait_for_function("() => /60 questions: .* failed/.test(document.querySelector('#batch-status').innerText)",
                                   timeout=300_000)
            status = page.inner_text("#batch-status")
            assert "abstained (not in the sources)" in status and "0 failed" in status
            links = page.locator("#batch-files a[download]")
            assert links.count() == 2
            saved = {}
            for i in range(links.count()):
                with page.expect_download() as info:
                    links.nth(i).click()
                target = tmp_path / "downloads" / info.value.suggested_filename
                info.value.save_as(target)
                saved[target.suffix] = target
            assert sorted(p.name for p in saved.values()) == ["consultation-answers.docx", "consultation-answers.xlsx"]
            page.screenshot(path=str(tmp_path / "batch-tab.png"), full_page=True)
            assert not errors, errors
        finally:
            browser.close()
    ws = load_workbook(saved[".xlsx"])["Answers"]
    assert [c.value for c in ws["B"]][1:] == questions
    assert ws["C2"].value == "answered" and ws["C3"].value == "abstained"
    headings = [p.text for p in docx.Document(str(saved[".docx"])).paragraphs if p.style.name == "Heading 1"]
    assert headings[:2] == [f"q1: {ANSWERABLE}", f"q2: {UNANSWERABLE}"] and headings[-1] == "Sources"
