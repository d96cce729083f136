"""Ingest's output changes only with a version bump.

An index is kept up to date incrementally: a document is re-read only when its content hash changes, and
that hash carries the versions of the rules that turn a file into paragraphs (ingest/pipeline.py
`content_hash`: CLEANER_VERSION, LOADER_VERSIONS, HEADER_VERSION, VECTOR_RULE_VERSION). A change to
those rules without a bump leaves every index built before it holding the old paragraphs, silently (it
happened: 6 Markdown documents of the policy corpus kept their old splits, docs/benchmarks.md).

This test parses documents written here, in each format that needs no binary tooling to write, and
compares a digest of what ingest makes of them with the digest recorded for the current versions.
It also records a digest of the rules' source (every ingest module but the pipeline that runs them): the
documents here cannot exercise every rule (the change that went unbumped touched Markdown converted from
PDF), so a change to any rule asks the developer to decide. When a test fails:
- the output or the rules changed and what ingest makes of real documents may differ: bump the version
  of the rule that changed (a loader's, the cleaner's or the header's), then record what the message gives;
- only the rules' source changed, and nothing a document turns into can differ (a rename, a comment):
  record the new rules digest alone.
"""

from __future__ import annotations

import hashlib
import json

MARKDOWN = """---
title: "Guidance on ward staffing"
author: Jane Roe
date: 2024-03-01
---

# Guidance on ward staffing

## Contents

1. Introduction ........ 2
2. Rotas ........ 4

## Introduction

Every ward should publish its staffing rota a week
in advance, so that staff can plan their leave and
patients know who is on duty.

- Rotas are agreed with the ward sister.
- Changes are logged within a day.

| Ward | Nurses | Health care assistants |
|---|---|---|
| Kestrel | 6 | 3 |
| Osprey | 4 | 2 |

Page 2 of 9

The review found that three wards met the standard in 2023. Two more are expected to meet it by 2025.
"""

HTML = """<!DOCTYPE html><html><head><title>Rota review</title>
<meta name="author" content="Sam Lee"></head><body>
<nav aria-label="Breadcrumb"><a href="/">Home</a> &gt; <a href="/guides">Guides</a></nav>
<main><h1>Rota review 2023</h1>
<p class="publication-header">From: Department of Wards | Published 14 May 2023</p>
<p>The review looked at rotas on twelve wards over six months.</p>
<h2>Findings</h2>
<ul><li><p>Most rotas were published late.</p></li><li><p>Leave requests were often refused.</p></li></ul>
<table><tr><th>Ward</th><th>Late rotas</th></tr><tr><td>Kestrel</td><td>4</td></tr></table>
</main><footer>Contact us | Cookies | Accessibility statement</footer></body></html>
"""

TEXT = """Notes on the rota pilot

The pilot ran on two wards from January to June. Staff said the new rota
was easier to read.

Contents
Background 1
Results 2
"""

# The versions in force, the digest of the rules' source and of what ingest makes of the documents above.
RECORDED = {
    "versions": {"cleaner": "15", "header": "5", "vectors": "3",
                 "loaders": {".docx": "2", ".htm": "4", ".html": "4", ".markdown": "3", ".md": "3", ".pdf": "4"}},
    "rules": "c43e8d33d32c3e100f7252e5835db9ef314dd7c9919b1f9afba8c774fdc24ac1",
    "output": "e70dae005bcc0eb63263535b13fd36de83cccaa566cd0987ec761ee193d2093e",
}
PIPELINE_MODULES = ("__init__.py", "pipeline.py")  # they run the rules; what a file turns into is decided elsewhere


def _versions() -> dict:
    from ingest.cleaning import CLEANER_VERSION
    from ingest.header import HEADER_VERSION
    from ingest.loaders import LOADER_VERSIONS
    from ingest.pipeline import VECTOR_RULE_VERSION

    return {"cleaner": CLEANER_VERSION, "header": HEADER_VERSION, "vectors": VECTOR_RULE_VERSION,
            "loaders": {k: LOADER_VERSIONS[k] for k in sorted(LOADER_VERSIONS)}}


def _rules_digest() -> str:
    from pathlib import Path

    import ingest

    folder = Path(ingest.__file__).parent
    sources = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.py")) if p.name not in PIPELINE_MODULES}
    return hashlib.sha256(json.dumps(sources, sort_keys=True).encode()).hexdigest()


def _output_digest(tmp_path) -> str:
    from ingest.pipeline import parse_document

    made = []
    for name, text in (("staffing.md", MARKDOWN), ("review.html", HTML), ("pilot.txt", TEXT)):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        document = parse_document(path, path.stem, "default", {}, 10_000_000)
        paragraphs = document.paragraphs  # the header (#p0) included, as parse_document writes it
        made.append({
            "metadata": [document.title, document.author, document.publisher, document.date, document.reference],
            "paragraphs": [[p.number, p.kind, p.section, p.text, [[s.start, s.end] for s in p.sentences]] for p in paragraphs],
        })
    return hashlib.sha256(json.dumps(made, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def test_ingest_output_changes_only_with_a_version_bump(tmp_path):
    found = {"versions": _versions(), "rules": _rules_digest(), "output": _output_digest(tmp_path)}
    record = f"record this in tests/test_ingest_versions.py RECORDED: {json.dumps(found)}"
    if found["versions"] != RECORDED["versions"]:
        raise AssertionError(f"the ingest versions changed: {record}")
    assert found["output"] == RECORDED["output"], (
        "ingest makes something else of the same files under the same versions: indexes built before this change "
        "would keep their old paragraphs. Bump the version of the rule that changed (ingest/loaders.py LOADER_VERSIONS, "
        f"ingest/cleaning.py CLEANER_VERSION, ingest/header.py HEADER_VERSION), then {record}")
    assert found["rules"] == RECORDED["rules"], (
        "ingest's rules changed under the same versions. If what a real document turns into may differ, bump the version "
        "of the rule that changed (indexes built before would otherwise keep their old paragraphs); if it cannot (a "
        f"rename, a comment), record the new rules digest. Then {record}")
