"""The Answer's `status` (issue 12, part 4): `answered`, `abstained` or `failed`, derived so that it
can never disagree with `abstained`/`error`, and carried by every way out (the JSON, the CLI)."""

from __future__ import annotations

import dataclasses
import json

from conftest import run_cli


def test_status_follows_abstained_and_error():
    from assistant.answer import Answer

    answered = Answer("q", "It is so [1].", abstained=False)
    assert answered.status == "answered" and answered.to_dict()["status"] == "answered"
    assert "error" not in answered.to_dict()
    # a copy changed into an abstention cannot keep a stale status
    assert dataclasses.replace(answered, abstained=True).status == "abstained"
    failed = Answer.failed("q", "TimeoutError: no answer in 30 s", id="7")
    data = failed.to_dict()
    assert data["status"] == "failed" and data["error"] == "TimeoutError: no answer in 30 s" and data["id"] == "7"
    assert data["abstained"] is True and data["citations"] == [] and data["answer"]  # never "abstained: false, empty"
    assert Answer.from_dict(data).status == "failed" and Answer.from_dict(data).error == data["error"]
    assert Answer.from_dict({**data, "error": ""}).status == "failed"  # a failed record without a message stays failed
    assert Answer.from_dict(answered.to_dict()) == answered


def test_cli_ask_json_carries_status(sources_data_dir):
    done = run_cli("ask", "--json", "Who is David Dalton?", data_dir=sources_data_dir, env={"ASSISTANT_LLM_BASE_URL": ""})
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["status"] == "answered" and data["abstained"] is False
