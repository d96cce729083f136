"""Enumerations: a sentence that announces a list, and the items that follow it.

"I believe that three conditions need to be met" says that there are three conditions, not what they
are: when the best answering sentence announces a list, the answer is the list (assistant/extractive.py).
These are rules of English discourse and layout, not of any one document.

Announcement (`announcement`): a count, a number word or digit before a plural noun that is not a unit
of measure ("three conditions", "5 priorities"; not "three years", not the pointing "these three
conditions"); a vague count ("several reasons", "a number of steps"); "the following" before a plural
noun or nothing, "as follows", "set out below"; or a closing colon.

Items (`list_items`), the first of these that is there:
1. the bullets after it in its own list paragraph (a lead-in line, then lines starting "• ");
2. a run of ordinal sentences after it, in its paragraph and the next ones ("First, ...", "Second, ...",
   "The third condition ...", "Another reason ...", "Finally, ..."), each the next in sequence;
3. when it is the last sentence of its paragraph, the next paragraphs: a list paragraph without a
   lead-in gives its bullets; after a firm announcement (a count or a noun before a colon, "the
   following steps", or a count of abstract things closing the sentence: "There are four reasons for
   this."), the first sentence of each of the next `count` paragraphs or, with no count, of the run of
   short paragraphs, while they are alike in form. A bare colon ("... emailed him saying:") announces
   bullets only: what follows it may be a quotation.
An item is one sentence (the one that states it); a count is the most items taken, and fewer are taken
when fewer follow (none is ever made up). A heading (a change of section), a paragraph that is not
running text (a table, a comment, the header, a contents list) or the end of the document ends a list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.records import Paragraph, paragraph_id
from assistant.text import STOPWORDS, stem

# The most items a list gives, and so the most following paragraphs read to find them.
MAX_ITEMS = 10
# After an item, at most this many whole paragraphs may pass without the next ordinal (an item's
# elaboration) before the list is taken to have ended.
MAX_GAP_PARAGRAPHS = 1
# Without a count or ordinals, a run of paragraphs after a colon is a list only while each is short: a
# list written without bullet glyphs, one item a paragraph.
SHORT_ITEM_WORDS = 30
# An unmarked item is a sentence: "6." (a paragraph number left at a paragraph's start) is none.
MIN_ITEM_WORDS = 3
ITEM_KINDS = ("paragraph", "list")

_NUMBER_WORDS = {w: n for n, w in enumerate(
    "two three four five six seven eight nine ten eleven twelve".split(), start=2)}
_ORDINAL_WORDS = {w: n for n, w in enumerate(
    "first second third fourth fifth sixth seventh eighth ninth tenth".split(), start=1)}
# Nouns that measure rather than count things: "three years ago", "two times", "five per cent".
_UNITS = frozenset("""years months weeks days hours minutes seconds decades centuries times percent cent
    pounds dollars euros millions billions thousands hundreds points miles metres kilometres""".split())
# Abstract nouns that stand for what the text goes on to say (the "shell nouns" of English grammar): a
# count of these closing a sentence announces them ("The plan sets out five priorities."), where a count
# of things only states how many there are ("The trust runs two hospitals.").
_SHELL_NOUNS = frozenset("""actions aims ambitions approaches areas aspects steps challenges changes
    commitments components conditions conclusions criteria dimensions elements factors findings goals
    ideas issues themes lessons levels measures messages objectives options outcomes phases pillars
    points principles priorities problems proposals questions reasons recommendations requirements risks
    stages strands strategies tests things tasks ways""".split())
# Words before a count that point back to a list already given ("these three conditions") or set a
# span of time ("the past two years").
_POINTING = frozenset("the these those its their our his her all of first last past next previous other".split())

_COUNT = re.compile(
    r"\b(?P<number>" + "|".join(_NUMBER_WORDS) + r"|\d{1,2})\s+"
    r"(?:[a-z][\w’'\-]*\s+){0,2}?(?P<noun>[a-z][\w\-]*(?:s|ia))\b", re.I)
_VAGUE_COUNT = re.compile(r"\b(?:several|a (?:number|series|range|set|handful) of|a few|various|some key)\s+"
                          r"(?:[a-z][\w\-]*\s+){0,2}?(?P<noun>[a-z][\w\-]*s)\b", re.I)
_BELOW = re.compile(r"\b(?:as follows|(?:set out|listed|shown|described|given|summarised) below)\b", re.I)
_FOLLOWING = re.compile(r"\bthe following\b(?P<rest>[^.:;!?]*)", re.I)
# What may close a sentence after the counted noun for the count to close it: nothing, or a short
# prepositional phrase ("There are four reasons for this.").
_CLOSING_TAIL = re.compile(r"^(?:\s+(?:for|in|to|of|on|at|from|with|within|behind|about)\b[^,;:]{0,30})?\s*[.:!]?[\"”’']?\s*$")

# "First, ...", "Secondly ...", "First we ...": an ordinal that marks an item on its own. "Second homes",
# "Third sector" are nouns: a bare ordinal marks an item only before a comma, a dash, "of all" or a word
# that opens a clause.
_BARE_ORDINAL = re.compile(
    r"^[‘'\"“(]?(?:(?:and|but)\s+)?(?P<word>" + "|".join(_ORDINAL_WORDS) + r")(?:ly)?"
    r"(?:\s*[,:—–]|\s+of all\b|\s+(?:we|i|you|they|there|it|this|the|a|an|in|on|to|and|as|if|when)\b)", re.I)
# "The third ...": an item when it names the announced noun ("The third and most difficult condition")
# or stands for it ("The second is ..."); "The third reading of the bill" is no item.
_DETERMINED_ORDINAL = re.compile(
    r"^[‘'\"“(]?(?:(?:and|but)\s+)?(?:the|a|our|my|its|their)\s+(?P<word>" + "|".join(_ORDINAL_WORDS) + r")\b"
    r"(?P<rest>(?:\s+\S+){0,5})", re.I)
_STANDS_FOR_NOUN = re.compile(r"^\s*(?:[,:—–]|(?:is|was|are|concerns|relates)\b)", re.I)
_FINAL = re.compile(r"^[‘'\"“(]?(?:and\s+)?(?:finally|lastly|last(?:ly)?,|last but not least)\b", re.I)
_ANOTHER = re.compile(r"^[‘'\"“(]?(?:another|a further|one more|a (?:second|third) and final)\b(?P<rest>(?:\s+\S+){1,4})", re.I)
FINAL = -1
ANOTHER = 0


@dataclass(frozen=True)
class Announcement:
    """What a sentence announces: how many items (None when it does not say) of what, and whether it
    announces firmly enough that the next paragraphs are its items even without ordinals."""

    count: int | None
    noun: str | None
    firm: bool


@dataclass(frozen=True)
class Item:
    """One item of a list: sentence `index` of `paragraph`."""

    paragraph: Paragraph
    index: int


def announcement(sentence: str) -> Announcement | None:
    """The list `sentence` announces, or None when it announces none."""
    text = sentence.strip()
    closing_colon = text.rstrip("\"”’' ").endswith(":")
    explicit = _opens_list(text)  # "the following steps", "as follows", "set out below"
    for match in _COUNT.finditer(text):
        noun = match.group("noun").lower()
        if not _is_plural_noun(noun):
            continue
        before = text[: match.start()].split()
        pointing = bool(before) and before[-1].lower().strip("‘'\"“(") in _POINTING
        if pointing and not (closing_colon or explicit):
            continue
        number = match.group("number").lower()
        count = _NUMBER_WORDS.get(number) or int(number)
        if not 2 <= count <= MAX_ITEMS:
            continue
        closes = bool(_CLOSING_TAIL.match(text[match.end():])) and noun in _SHELL_NOUNS
        return Announcement(count, noun, closing_colon or explicit or closes)
    vague = _VAGUE_COUNT.search(text)
    if vague:
        return Announcement(None, vague.group("noun").lower(), closing_colon or explicit)
    if explicit or closing_colon:
        # A bare colon introduces a list only by its layout (bullets): "... emailed him saying:" introduces
        # a quotation, and the paragraphs after it are no list.
        return Announcement(None, None, explicit)
    return None


def _opens_list(text: str) -> bool:
    """"as follows", "set out below", or "the following" before a plural noun or nothing ("include the
    following."), but not "the following year"."""
    if _BELOW.search(text):
        return True
    for match in _FOLLOWING.finditer(text):
        words = [w.lower().strip(",") for w in match.group("rest").split()[:3]]
        if not words or any(_is_plural_noun(w) for w in words):
            return True
    return False


def _is_plural_noun(word: str) -> bool:
    """A rough test, enough for list nouns: ends in -s (or -ia: "criteria"), and is no stop word or unit."""
    return (word.endswith(("s", "ia")) and not word.endswith(("ss", "us", "is")) and word not in STOPWORDS
            and word not in _UNITS)


def ordinal_position(sentence: str, noun: str | None = None) -> int | None:
    """The place a sentence claims in a list: 1 for "First, ...", 2 for "The second ...", FINAL for
    "Finally, ...", ANOTHER for "Another reason ..." (only when it names the announced `noun`); None
    for a sentence that claims none ("First Minister Smith said ..." claims none)."""
    text = sentence.lstrip("• ").strip()
    bare = _BARE_ORDINAL.match(text)
    if bare:
        return _ORDINAL_WORDS[bare.group("word").lower()]
    determined = _DETERMINED_ORDINAL.match(text)
    if determined and (_STANDS_FOR_NOUN.match(determined.group("rest")) or _names(determined.group("rest"), noun)):
        return _ORDINAL_WORDS[determined.group("word").lower()]
    if _FINAL.match(text):
        return FINAL
    another = _ANOTHER.match(text)
    if another and _names(another.group("rest"), noun):
        return ANOTHER
    return None


def _names(words: str, noun: str | None) -> bool:
    """Whether `words` name the announced `noun` (in any number: "condition" names "conditions")."""
    return bool(noun) and stem(noun) in {stem(w.strip(",.;:").lower()) for w in words.split()}


def list_items(paragraph: Paragraph, index: int, following: Sequence[Paragraph]) -> list[Item]:
    """The items that sentence `index` of `paragraph` announces, in order; `following` are the paragraphs
    after it in its document, in order (read at most MAX_ITEMS + MAX_GAP_PARAGRAPHS of them). Empty when
    the sentence announces nothing or nothing it announces follows."""
    if not 0 <= index < len(paragraph.sentences):
        return []
    announced = announcement(paragraph.sentence_texts()[index])
    if announced is None:
        return []
    following = _same_list_context(paragraph, following)
    return (_bullets_after(paragraph, index)
            or _ordinal_run(paragraph, index, following, announced.noun, announced.count or MAX_ITEMS)
            or (_next_paragraphs(following, announced) if _ends_paragraph(paragraph, index) else []))


def paragraphs_after(catalog, paragraph: Paragraph, k: int = MAX_ITEMS + MAX_GAP_PARAGRAPHS) -> list[Paragraph]:
    """The next `k` paragraphs of `paragraph`'s document from `catalog` (an assistant.index.Index): a
    bounded read, stopping at the first number missing."""
    ids = [paragraph_id(paragraph.document_id, paragraph.number + i) for i in range(1, k + 1)]
    found = catalog.paragraphs(ids)
    out = []
    for pid in ids:
        if pid not in found:
            break
        out.append(found[pid])
    return out


# --- the three places items are found --------------------------------------------------------------

def _same_list_context(paragraph: Paragraph, following: Sequence[Paragraph]) -> list[Paragraph]:
    """The following paragraphs up to a change of section or a paragraph that is not running text."""
    out = []
    for p in following[: MAX_ITEMS + MAX_GAP_PARAGRAPHS]:
        if p.document_id != paragraph.document_id or p.section != paragraph.section or p.kind not in ITEM_KINDS:
            break
        out.append(p)
    return out


def _line_is_bullet(paragraph: Paragraph, index: int) -> bool:
    start = paragraph.sentences[index].start
    line_start = paragraph.text.rfind("\n", 0, start) + 1
    return paragraph.text[line_start:].startswith("•")


def _bullets_after(paragraph: Paragraph, index: int) -> list[Item]:
    """The bullet lines of `paragraph` after sentence `index` (each by its first sentence). A bullet list
    is taken whole whatever a count says: its lines are the list by its layout."""
    items = []
    for i in range(index + 1, len(paragraph.sentences)):
        if _line_is_bullet(paragraph, i):
            if paragraph.text[paragraph.sentences[i].start :].startswith("•"):
                items.append(Item(paragraph, i))
        elif items:
            break  # the list has ended; what follows is not one of its items
    return items


def _ordinal_run(paragraph: Paragraph, index: int, following: list[Paragraph], noun: str | None, limit: int) -> list[Item]:
    """"First, ...", "Second, ...", ... after sentence `index`: the first in the rest of its paragraph or
    opening the next one, each next one within MAX_GAP_PARAGRAPHS paragraphs of the one before."""
    items: list[Item] = []
    gap = 0  # whole paragraphs passed since the last item
    for p in [paragraph, *following]:
        found_here = False
        for i in range(index + 1 if p is paragraph else 0, len(p.sentences)):
            if not items and p is not paragraph and i > 0:
                break  # the first item opens the paragraph after the announcement, or it is not there
            position = ordinal_position(p.sentence_texts()[i], noun)
            if position == len(items) + 1 or (items and position in (ANOTHER, FINAL)):
                items.append(Item(p, i))
                found_here = True
                if position == FINAL or len(items) >= limit:
                    return items
            elif position is not None and items:
                return items  # out of sequence: another list begins
        if p is not paragraph:
            if not items:
                return []
            gap = 0 if found_here else gap + 1
            if gap > MAX_GAP_PARAGRAPHS:
                break
    return items if len(items) >= 2 else []


def _ends_paragraph(paragraph: Paragraph, index: int) -> bool:
    return index == len(paragraph.sentences) - 1


def _next_paragraphs(following: list[Paragraph], announced: Announcement) -> list[Item]:
    """Items in the next paragraphs, unmarked: a list without a lead-in; or, after a firm announcement,
    the first sentence of each of the next `count` paragraphs, or of the run of short ones, while they are
    alike in form (items of one list are parallel: "policy based - ..." and "The estimates cover ..." are
    not two items of one list) and each is a sentence, not a stray number."""
    if not following:
        return []
    first = following[0]
    if first.sentences and first.text.startswith("•"):
        return _bullets_after(first, -1)
    if not announced.firm:
        return []
    run: list[Item] = []
    for p in following[: announced.count or MAX_ITEMS]:
        if (not p.sentences or len(p.sentence_texts()[0].split()) < MIN_ITEM_WORDS
                or (not announced.count and len(p.text.split()) > SHORT_ITEM_WORDS)
                or (run and _form(p.text) != _form(run[0].paragraph.text))):
            break
        run.append(Item(p, 0))
    return run if announced.count or len(run) >= 2 else []


def _form(text: str) -> tuple[bool, bool]:
    """The form of a list item: whether it opens in lower case, and whether it ends in punctuation."""
    text = text.strip().lstrip("‘'\"“(")
    return (text[:1].islower(), not text[-1:].isalnum())
