"""The checkpoint: OUTPUT.checkpoint.jsonl beside the output, one line per answered question.

Line 1 is a header ({"assistant_batch_checkpoint": 1, "collections": [...] or null}); every further line
is {"key", "id", "question", "answer": <Answer JSON>} or {"key", "id", "question", "error": "..."}.
Each line is written, flushed and fsync'd as soon as its answer exists, so a kill (Ctrl-C, SIGKILL,
power loss) loses at most the questions in flight. A torn last line (killed mid-write) is ignored on
reading and cut off before appending. Re-running with the same output skips every question with an
answer here (keyed by the question's text, so reordering or editing the input is safe); failed
questions are tried again. The checkpoint is kept after the run: it is the record that makes a re-run
(or another output format) cheap; delete it, or pass --force, to start over.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from assistant.answer import Answer
from assistant.batch.records import BadInput

HEADER_KEY = "assistant_batch_checkpoint"
VERSION = 1


def checkpoint_path(output: Path) -> Path:
    output = Path(output)
    return output.with_name(output.name + ".checkpoint.jsonl")


@dataclass
class Entry:
    key: str
    id: str
    question: str
    answer: Answer | None = None
    error: str = ""

    def to_json(self) -> str:
        data = {"key": self.key, "id": self.id, "question": self.question}
        if self.answer is not None:
            data["answer"] = self.answer.to_dict()
        else:
            data["error"] = self.error
        return json.dumps(data, ensure_ascii=False)


def _scope(collections) -> list[str] | None:
    return sorted(set(collections)) if collections else None


class Checkpoint:
    """Read what a previous run finished; append what this run finishes."""

    def __init__(self, path: Path, collections: list[str] | None = None):
        self.path = Path(path)
        self.collections = _scope(collections)
        self._file = None
        self.written = 0

    # --- reading ---------------------------------------------------------------------------------

    def load(self) -> dict[str, Entry]:
        """key -> the latest entry. Raises BadInput when the file is not a checkpoint of this kind of run."""
        if not self.path.exists():
            return {}
        entries: dict[str, Entry] = {}
        with open(self.path, "rb") as f:
            data = f.read()
        lines = data.split(b"\n")
        if not data.endswith(b"\n"):
            lines = lines[:-1]  # torn last line: the question that was in flight
        if not lines or not lines[0].strip():
            return {}
        try:
            header = json.loads(lines[0])
        except json.JSONDecodeError:
            header = None
        if not isinstance(header, dict) or header.get(HEADER_KEY) != VERSION:
            raise BadInput(
                f"{self.path} exists but is not a batch checkpoint; move it away, or pass --force to replace it"
            )
        if _scope(header.get("collections")) != self.collections:
            made = ", ".join(header.get("collections") or []) or "all collections"
            now = ", ".join(self.collections or []) or "all collections"
            raise BadInput(
                f"{self.path} holds answers searched in {made}, but this run searches {now}; "
                f"use the same --collection to resume, or pass --force to answer everything again"
            )
        for line in lines[1:]:
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                entry = Entry(
                    key=item["key"],
                    id=item.get("id", ""),
                    question=item.get("question", ""),
                    answer=Answer.from_dict(item["answer"]) if "answer" in item else None,
                    error=item.get("error", ""),
                )
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise BadInput(f"{self.path} is damaged ({exc}); pass --force to start over") from None
            if entry.answer is not None or entry.key not in entries or entries[entry.key].answer is None:
                entries[entry.key] = entry
        return entries

    # --- writing ---------------------------------------------------------------------------------

    def open(self, fresh: bool = False) -> None:
        """Start appending (a new file with its header when `fresh` or when there is none)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if fresh or not self.path.exists() or self.path.stat().st_size == 0:
            self._file = open(self.path, "wb")
            self._write_line(json.dumps({HEADER_KEY: VERSION, "collections": self.collections}))
            return
        self._file = open(self.path, "r+b")
        data = self._file.read()
        if not data.endswith(b"\n"):  # cut the torn last line off before appending after it
            self._file.truncate(data.rfind(b"\n") + 1)
        self._file.seek(0, os.SEEK_END)

    def append(self, entry: Entry) -> None:
        self._write_line(entry.to_json())
        self.written += 1

    def _write_line(self, line: str) -> None:
        assert self._file is not None, "Checkpoint.open() first"
        self._file.write(line.encode("utf-8") + b"\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "Checkpoint":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
