"""Markdown: headings, lists and paragraphs of a .md file."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.loaders import BULLET_RE, Block, LoadedDocument, UnreadableDocument, item_text, text_blocks


def markdown_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(Block("text", " ".join(paragraph)))
            paragraph.clear()

    in_code = False
    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_code = not in_code
            flush()
            continue
        if in_code:
            paragraph.append(stripped)
            continue
        if not stripped:
            flush()
        elif m := re.match(r"^#{1,6}\s+(.*?)\s*#*$", stripped):
            flush()
            blocks.append(Block("heading", m.group(1)))
        elif BULLET_RE.match(line):
            flush()
            blocks.append(Block("item", item_text(line)))
        else:
            paragraph.append(stripped)
    flush()
    # Inline markup is presentation, not content.
    return [Block(b.kind, re.sub(r"[*_`]{1,3}([^*_`]+)[*_`]{1,3}", r"\1", re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", b.text))) for b in blocks]




def load_markdown(path: Path) -> LoadedDocument:
    from ingest.loaders import read_text

    return LoadedDocument(markdown_blocks(read_text(path)))
