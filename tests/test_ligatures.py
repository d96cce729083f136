"""Split ligatures (ingest/ligatures.py): a document whose converter wrote "ll" as "l " is repaired, through
the real ingest of a Markdown file; a clean document is never touched. The texts are written for these tests."""

from __future__ import annotations

from ingest.ligatures import damaged_letters, known_words, repair_split_ligatures
from ingest.loaders import Block, LoadedDocument
from ingest.pipeline import parse_document

DAMAGED = """# Rural skil s plan

The council wil al ow smal firms to bid for the skil s fund. Most of the mil ion pounds wil go to
local col eges, which are national y funded and regional y managed.

Final y, the plan fol ows the review by Jones et al. and it wil be checked every year by al partners.
The il ustrative figures are not forecasts.
"""

CLEAN = """# Rural skills plan

The council will allow small firms to bid for the skills fund. Most of the million pounds will go to
local colleges. The local panel will meet in April, and a real yield is expected; the model is well tested.
"""


def test_a_damaged_document_is_repaired_through_ingest(tmp_path):
    path = tmp_path / "plan.md"
    path.write_text(DAMAGED, encoding="utf-8")
    document = parse_document(path, "plan", "default", {}, 10_000_000)
    text = " ".join(p.text for p in document.paragraphs)
    assert document.title == "Rural skills plan"
    for repaired in ("will allow small firms", "skills fund", "million pounds", "colleges",
                     "nationally funded and regionally managed", "Finally, the plan follows", "by all partners"):
        assert repaired in text, repaired
    assert "et al." in text  # a citation's "et al." is no "all"
    assert "il ustrative" in text  # an unknown word is left as it is, not guessed


def test_a_clean_document_is_never_touched():
    blocks = [Block("text", CLEAN), Block("text", "Neil's pal said the model is real. The local panel will meet.")]
    loaded = LoadedDocument(blocks=blocks)
    assert damaged_letters(CLEAN) == []
    assert repair_split_ligatures(loaded) is loaded


def test_a_few_split_looking_pairs_are_not_damage():
    # Below MIN_SPLIT_PAIRS pairs that would read as one word ("al ow" -> "allow"), and the intact double
    # letters outnumber them: no repair.
    text = "Al ow me to add that all the skills will follow, as will all else."
    assert damaged_letters(text) == []


def test_page_marks_move_back_with_joined_words():
    # A page begins at word 9 ("small"); three pairs before it join ("skil s", "al ow", "mil ion"), so it
    # begins at word 6 after the repair, and still at "small".
    text = "The skil s fund wil al ow mil ion small col eges to bid. Skil s and chal enges."
    assert text.split()[9] == "small"
    block = Block("text", text, page_marks=((0, 3), (9, 4)))
    repaired = repair_split_ligatures(LoadedDocument(blocks=[block])).blocks[0]
    assert repaired.text.startswith("The skills fund will allow million small colleges")
    assert repaired.page_marks == ((0, 3), (6, 4))
    assert repaired.text.split()[6] == "small"


def test_the_vocabulary_is_the_bundled_tokenizers():
    words = known_words()
    assert {"skills", "million", "challenges", "allow"} <= words
    assert not any(w.startswith("##") for w in words)
