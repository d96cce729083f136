"""Batch answering: a file of questions in, cited answers out (issue 5).

    assistant batch questions.xlsx --out answers.xlsx [--collection C] [--workers N] [--force]

The steps, one module each:
- `records`    the typed records passed between the steps (Question, QuestionSet, Row, BatchResult) and BadInput;
- `readers`    input files (.csv .xlsx .txt .jsonl .docx) -> a QuestionSet (validated: bad input fails here,
               before anything is written);
- `checkpoint` the sidecar OUTPUT.checkpoint.jsonl: one fsync'd line per answer, read back to resume;
- `runner`     answers the pending questions (a thread pool), checkpointing each, and assembles the rows;
- `writers`    rows -> .jsonl .xlsx .docx .csv .md, written atomically (temporary file + rename);
- `command`    the `assistant batch` command (progress bar with ETA, summary, exit codes);
- `api`        `POST /api/batch` (a FastAPI router), `ui` the batch tab of the web chat, `bench` the benchmark.
"""

from assistant.batch.records import BadInput, BatchResult, Question, QuestionSet, Row

__all__ = ["BadInput", "BatchResult", "Question", "QuestionSet", "Row"]
