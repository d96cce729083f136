"""Wrong glyphs: text whose converter read some characters of a font through a wrong map.

A PDF whose font has no usable character map converts to text with some characters replaced, always the same
way within the document: "w" read as "Z" ("Zork Zith", "betZeen"), "t" as "ƚ", an apostrophe as "¶"
("Minister¶s"), an opening quote as "³" ("³essential for work purposes ́"). Such a document misses lexical
matches on every word that holds one of them, and shows its readers garbage.

The repair is learnt from the document itself, and made only where it turns garbage into known words (the
bundled tokenizer's whole words, as for split ligatures: ingest/ligatures.py):
- a letter map X -> y: a character X of the document's words (a letter or symbol that is not ASCII
  punctuation, a digit, a currency sign or a format character) is read as the letter y when replacing it
  turns at least MIN_WORDS distinct unknown words into known ones, and those are at least MIN_SHARE of the
  distinct words that hold X (an "e" that fixes a typo or two in a clean document is far below that). Maps are found in rounds, so a word with several wrong characters is
  read once the others are known. Only words that become known change: "Zoom" stays "Zoom"; digits are
  left (any digit makes a number);
- an apostrophe: a character that stands between a known word and "s", "t", "ll", "re", "ve", "d" or "m"
  ("Minister¶s", "It¶s", "let¶s"), and with the word edges it stands at at least MIN_WORDS times, more often
  than inside words, is read as "’" wherever it stands (a right single quote is an apostrophe too);
- a quote mark: a character that opens or closes known words at least MIN_WORDS times ("³essential",
  "purposes ́"), never inside one, is read as "“" before a word and "”" after one.
A clean document has none of these, and is returned as it is.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter, defaultdict
from dataclasses import replace

from ingest.ligatures import known_words
from ingest.loaders import LoadedDocument

MIN_WORDS = 5
MIN_SHARE = 0.5
_CONTRACTION_ENDS = {"s", "t", "ll", "re", "ve", "d", "m"}
_TOKEN = re.compile(r"\S+")
_EDGE_PUNCTUATION = "\"'“”‘’.,;:!?()[]{}*_"
# Marks that may join word characters without being wrong glyphs.
_JOINERS = set("-–—/&.,'’")


def _core(token: str) -> str:
    return token.strip(_EDGE_PUNCTUATION)


def _known(text: str, words: frozenset[str]) -> bool:
    """Every alphabetic run of `text` is a known word, and there is one."""
    runs = re.findall(r"[a-z]+", text.lower())
    return bool(runs) and all(r in words for r in runs) and not re.search(r"[^a-z0-9\-–'’]", text.lower())


def _suspect(ch: str) -> bool:
    """A character that may stand for a letter: not ASCII punctuation, space, a joining mark, a format
    character, a currency sign or a typographic quote or dash."""
    category = unicodedata.category(ch)
    return not (ch in string.punctuation or ch.isspace() or ch in _JOINERS or ch in "“”‘’…–—"
                or category in ("Cf", "Sc", "Zs") or ch.isdigit())


def letter_maps(tokens: list[str], words: frozenset[str]) -> dict[str, str]:
    """X -> y for the characters the document reads wrongly as letters (see the module docstring). Found in
    rounds: the words with one wrong character give the first maps, and with those applied, words that had two
    give more ("gaƚheƌiŶg": "ƚ" -> "t" from "ƚhe", then "ƌ" and "Ŷ")."""
    distinct = set(tokens)
    maps: dict[str, str] = {}
    while True:
        mapped = {t: _apply(t, maps) for t in distinct}
        # Each suspect character with the words it is the only suspect of: a word with one non-ASCII suspect
        # holds it; a word with none holds each of its ASCII letters (a "w" read as "Z" is an ASCII letter).
        holders: dict[str, set[str]] = defaultdict(set)
        for now in mapped.values():
            odd = {ch for ch in now if ch not in maps and _suspect(ch) and not (ch.isascii() and ch.isalpha())}
            for ch in odd if len(odd) == 1 else {ch for ch in now if ch.isascii() and ch.isalpha()} if not odd else ():
                holders[ch].add(now)
        found = {}
        for ch, held in holders.items():
            unknown = [t for t in held if not _known(t, words)]
            if len(unknown) < max(MIN_WORDS, MIN_SHARE * len(held)):
                continue  # too few to fix: every map below would fail the same test
            best, fixed = None, 0
            for target in string.ascii_lowercase:
                if target == ch.lower():
                    continue
                n = sum(1 for t in unknown if _known(t.replace(ch, target), words))
                if n > fixed:
                    best, fixed = target, n
            if best is not None and fixed >= MIN_WORDS and fixed >= MIN_SHARE * len(held):
                found[ch] = (fixed, best)
        if not found:
            return maps
        ch, (_, target) = max(found.items(), key=lambda kv: kv[1][0])  # the surest first, then look again
        maps[ch] = target


def _apply(token: str, maps: dict[str, str]) -> str:
    for ch, target in maps.items():
        token = token.replace(ch, target)
    return token


def _word(text: str) -> str:
    """`text` without the marks at its edges, lower-cased ("" when what is left is not letters)."""
    core = re.sub(r"^[^A-Za-z]+|[^A-Za-z]+$", "", text)
    return core.lower() if core.isalpha() else ""


def punctuation_maps(tokens: list[str], words: frozenset[str]) -> dict[str, str]:
    """A character read as an apostrophe ("’") or as quote marks ("quotes"), see the module docstring."""
    inside, apostrophe, edges = Counter(), Counter(), Counter()
    for token in tokens:
        core = _core(token)
        for i, ch in enumerate(core):
            if (ch.isalnum() and ch.isascii() or ch in string.punctuation or ch in "“”‘’…–—"
                    or unicodedata.category(ch) in ("Cf", "Sc")):
                continue
            left, right = core[:i], core[i + 1 :]
            if left.isalpha() and right.lower() in _CONTRACTION_ENDS and left.lower() in words:
                apostrophe[ch] += 1
            elif (i == 0 and _word(right) in words) or (i == len(core) - 1 and _word(left) in words):
                edges[ch] += 1  # "³long´": a mark at either edge of a known word
            elif left and right:
                inside[ch] += 1
        if token and not _core(token) and len(token) == 1 and not token.isascii():
            edges[token] += 1  # a lone mark after a space: "purposes ́"
    maps = {}
    for ch, n in apostrophe.items():
        # A right single quote is an apostrophe too: a mark seen as both is "’" wherever it stands.
        if n >= 2 and n + edges[ch] >= MIN_WORDS and inside[ch] < n + edges[ch]:
            maps[ch] = "’"
    for ch, n in edges.items():
        if ch not in maps and n >= MIN_WORDS and inside[ch] < n:
            maps[ch] = "quotes"
    return maps


def repair_text(text: str, letters: dict[str, str], marks: dict[str, str], words: frozenset[str]) -> str:
    """`text` with the document's wrong glyphs read right (word by word: a word that would not become known
    stays as it is)."""
    def token(match: re.Match[str]) -> str:
        fixed = match.group(0)
        for ch, kind in marks.items():
            if ch not in fixed:
                continue
            if kind == "’":
                fixed = fixed.replace(ch, "’")
            else:
                fixed = re.sub(rf"^(\W*){re.escape(ch)}(?=\w)", r"\1“", fixed)
                fixed = re.sub(rf"(?<=[\w.,;:!?]){re.escape(ch)}", "”", fixed)
                fixed = "”" if fixed == ch else fixed
        if any(ch in fixed for ch in letters):
            candidate = _apply(fixed, letters)
            if _known(_core(candidate), words):
                fixed = candidate
        return fixed

    return _TOKEN.sub(token, text)


def repair_wrong_glyphs(loaded: LoadedDocument) -> LoadedDocument:
    """`loaded` with its wrong glyphs read right; the same object when it shows none."""
    words = known_words()
    if not words:
        return loaded
    tokens = _TOKEN.findall("\n".join(block.text for block in loaded.blocks))
    letters = letter_maps([core for t in tokens if (core := _core(t))], words)
    marks = punctuation_maps([_apply(t, letters) for t in tokens], words)
    if not letters and not marks:
        return loaded
    blocks = [replace(b, text=repaired) if (repaired := repair_text(b.text, letters, marks, words)) != b.text else b
              for b in loaded.blocks]
    metadata = {key: repair_text(value, letters, marks, words) for key, value in loaded.metadata.items()}
    return replace(loaded, blocks=blocks, metadata=metadata)
