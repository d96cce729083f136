"""Wrong glyphs (ingest/glyphs.py): a document whose converter read "w" as "Z", an apostrophe as "¶" and
quote marks as "³" and "´" is read right, through the real ingest of a Markdown file; a clean document is never
touched. The texts are written for these tests."""

from __future__ import annotations

from ingest.glyphs import repair_wrong_glyphs
from ingest.loaders import Block, LoadedDocument
from ingest.pipeline import parse_document

DAMAGED = """# Harbour staff survey

The survey asked staff Zhere they Zork and Zhich shifts they Zant. Most said the Zork Zas hard but fair, and
that the harbour master¶s office listened. One said it ³Zould be better Zith more staff´ on Zinter nights, one
that nights Zere ³long´, one ³cold´, one ³quiet´ and one ³fine´.

The harbour¶s managers met betZeen shifts on Zoom, and the team¶s report is due in May. It¶s short.

Zahawi Marine, a supplier, Zas not surveyed: its Zorkers are not harbour staff, and one¶s contract is not theirs.
"""

CLEAN = """# Harbour staff survey

The survey asked staff where they work and which shifts they want. Most said the work was hard but fair, and
that the harbour master's office listened. One said it "would be better with more staff" on winter nights.
Zoom calls were held between shifts. Zahawi Marine, a supplier, was not surveyed.
"""


def test_a_damaged_document_is_read_right_through_ingest(tmp_path):
    path = tmp_path / "survey.md"
    path.write_text(DAMAGED, encoding="utf-8")
    text = " ".join(p.text for p in parse_document(path, "survey", "default", {}, 10_000_000).paragraphs)
    for right in ("where they work and which shifts they want", "the work was hard", "harbour master’s office",
                  "“would be better with more staff”", "between shifts", "team’s report", "It’s short", "was not surveyed"):
        assert right in text, right
    assert "Zoom" in text and "Zahawi" in text  # words that are right as they stand, or would be no word
    assert "¶" not in text and "³" not in text


def test_a_clean_document_is_never_touched():
    loaded = LoadedDocument(blocks=[Block("text", paragraph) for paragraph in CLEAN.split("\n\n")])
    assert repair_wrong_glyphs(loaded) is loaded
