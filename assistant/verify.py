"""The citation check: is each sentence of an answer supported by the paragraph(s) it cites, contradicted
by them, or neither?

Owns the one definition of "supported" that the LLM answerer (to show only what the sources back), the
review (to flag edits) and the evaluation (citation recall/precision, support rate) all use, and
`assistant verify` / `POST /api/verify` expose.

An answer is split into sentences; each sentence's markers are the `[n]` written in it, or, when
it has none, those of the next sentence that has some (the extractive convention: "S1. S2. [1]"
cites paragraph 1 for both). One sentence against one cited paragraph (`check_against`) gets one of
three labels, with a score, P(supported), and the paragraph sentences the verdict rests on:

1. It must say something: a sentence with fewer than MIN_TERMS content words
   (assistant/text.py `content_terms`) is `unsupported`.
2. A verbatim piece of the paragraph (the extractive answerer's sentences, and lists rendered as
   "lead-in: item; item.") is `supported`, score 1, without asking the model.
3. Otherwise the verifier (assistant/entailment.py, the project's trained entailment model) reads
   the paragraph against the sentence: the whole paragraph when it is short, else the windows of up
   to WINDOW_SENTENCES sentences around the MAX_WINDOWS paragraph sentences closest to it in
   embedding space, and those closest sentences read together (for a sentence that merges facts
   stated apart). The score is its best P(entailment) over those readings.
   - `supported` when the score reaches the fitted threshold AND every number and date in the
     sentence (`numbers`) appears in the paragraph and every capitalised name (`capitalised_names`)
     is a word of it, or stands for a name the other side spells out ("Defra", "the Department for
     Environment, Food and Rural Affairs") (the names-and-numbers rule, a hard constraint the model
     cannot overrule);
   - else `contradicted` when the model's best P(contradiction) reaches its threshold;
   - else `unsupported`.
   Both thresholds are fitted on held-out claims (`assistant verifier calibrate`).

A sentence is supported when at least one of its cited paragraphs supports it (ALCE's citation
recall); it is contradicted when none supports it and one contradicts it. Each (sentence, marker)
pair is also judged on its own (a simplified ALCE citation precision). Markers that point to no
paragraph count as citing nothing. Sentences of a paragraph that address an AI ("ignore your
previous instructions…") are never evidence for anything.

`support_report(answer, embedder)` runs the check on any Answer (extractive or LLM), reading
the cited paragraphs from its citations; `verify_sentences(text, evidence, embedder)` runs it on
raw text against paragraphs numbered by marker; `check_claims` checks claims against passages given
as text (the CLI and the API).

`SentenceBuffer` turns a stream of text pieces (an LLM's tokens) into the same sentences that
`split_answer` finds in the whole text, each released only once it is complete and its markers are
final, so that each sentence can be checked before anyone sees it (assistant/llm_answer.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from assistant.records import Span
from assistant.text import CITATION_MARKER, capitalised_names, content_terms, numbers, spelled_out_names, words

SUPPORTED, CONTRADICTED, UNSUPPORTED = "supported", "contradicted", "unsupported"
LABELS = (SUPPORTED, CONTRADICTED, UNSUPPORTED)
# What the verifier reads of a long paragraph: windows of this many sentences around the paragraph
# sentences closest to the claim. A paragraph of at most WHOLE_WORDS words is read whole. The model
# was trained on passages of one to a few sentences, at most 128 tokens with the claim.
WINDOW_SENTENCES = 3
MAX_WINDOWS = 3
WHOLE_WORDS = 70
MIN_TERMS = 2  # a sentence with fewer content words asserts nothing checkable
MIN_VERBATIM_WORDS = 4

_IZE = re.compile(r"(?<=[a-z])iz(?=e\b|es\b|ed\b|ing\b|ations?\b)", re.I)
# A sentence addressed to an AI ("ignore your previous instructions…") is never evidence.
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules|guidelines|directions)\b|"
    r"\b(system prompt|you are now|as an ai|language model|assistant must|reply only with|respond only with)\b",
    re.I,
)

_MARKER_GROUP = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})+)\]")  # "[1, 2]" -> "[1][2]"
_MARKERS_AFTER_STOP = re.compile(r"([.!?…]+)([\"'”’)]*)((?:\s*\[\d{1,3}\])+)")
_BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)]|#{1,6})\s+")
_LEAD_IN = re.compile(r"^\s*(?:answer|response|final answer)\s*:\s*", re.I)


@dataclass
class CitedParagraph:
    """A paragraph an answer may cite, with its sentences and their (L2-normalised) vectors."""

    paragraph_id: str
    text: str
    spans: list[Span]
    vectors: np.ndarray  # one row per span
    usable: list[int] = field(default_factory=list)  # sentences that may support a claim

    def __post_init__(self):
        if not self.usable:
            self.usable = [i for i in range(len(self.spans)) if not _INSTRUCTION.search(self.sentence(i))]

    def sentence(self, i: int) -> str:
        return self.text[self.spans[i].start : self.spans[i].end]


@dataclass
class AnswerSentence:
    text: str  # the sentence with its markers removed
    markers: list[int]  # as written (or inherited), in order, without repeats
    inherited: bool = False  # markers taken from the next sentence


@dataclass
class MarkerCheck:
    """One (sentence, cited paragraph) pair."""

    marker: int
    paragraph_id: str | None  # None: the marker points to no paragraph
    label: str = UNSUPPORTED  # SUPPORTED, CONTRADICTED or UNSUPPORTED
    score: float = 0.0  # P(supported): the verifier's best P(entailment) (1.0 for a verbatim piece)
    contradiction: float = 0.0  # the verifier's best P(contradiction)
    similarity: float = 0.0  # cosine of the closest paragraph sentence (chooses what the model reads)
    verbatim: bool = False
    missing: list[str] = field(default_factory=list)  # numbers/names not found in the paragraph
    best_sentences: list[int] = field(default_factory=list)  # the paragraph's sentences the verdict rests on

    @property
    def supported(self) -> bool:
        return self.label == SUPPORTED


@dataclass
class SentenceSupport:
    """The verdict on one answer sentence."""

    text: str
    markers: list[int]
    supported: bool  # at least one cited paragraph supports it
    checks: list[MarkerCheck] = field(default_factory=list)
    reason: str = ""  # why not, when not supported
    label: str = ""  # SUPPORTED, CONTRADICTED (no cited paragraph supports it, one contradicts it) or UNSUPPORTED
    score: float = 0.0  # the best P(supported) over its cited paragraphs

    def __post_init__(self):
        if not self.label:
            self.label = _sentence_label(self.supported, self.checks)
        if not self.score and self.checks:
            self.score = max(c.score for c in self.checks)

    @property
    def contradicted(self) -> bool:
        return self.label == CONTRADICTED


def _sentence_label(supported: bool, checks: list[MarkerCheck]) -> str:
    if supported:
        return SUPPORTED
    return CONTRADICTED if any(c.label == CONTRADICTED for c in checks) else UNSUPPORTED


# --- splitting an answer -----------------------------------------------------------------------


def normalise_markers(text: str) -> str:
    """`[1, 2]` -> `[1][2]`, and markers written after a full stop move before it, so that each
    marker stays in the sentence it follows."""
    text = _MARKER_GROUP.sub(lambda m: "".join(f"[{n}]" for n in re.split(r"\s*[,;]\s*", m.group(1))), text)
    return _MARKERS_AFTER_STOP.sub(lambda m: " " + m.group(3).strip() + m.group(1) + m.group(2), text)


def split_answer(text: str) -> list[AnswerSentence]:
    """Sentences of an answer (markdown bullets and emphasis removed) with their markers."""
    from ingest.segment import split_sentences

    text = normalise_markers(text.replace("**", "").replace("__", ""))
    lines = [_LEAD_IN.sub("", _BULLET.sub("", line)).strip() for line in text.splitlines()]
    text = "\n".join(line for line in lines if line)
    raw: list[tuple[str, list[int]]] = []
    for span in split_sentences(text):
        piece = text[span.start : span.end]
        markers: list[int] = []
        for m in CITATION_MARKER.finditer(piece):
            n = int(m.group(1))
            if n not in markers:
                markers.append(n)
        bare = re.sub(r"\s+([.,;:!?])", r"\1", CITATION_MARKER.sub("", piece))
        bare = re.sub(r"\s{2,}", " ", bare).strip()
        if bare or markers:
            raw.append((bare, markers))
    # A marker-only fragment ("[2]" on a line of its own) belongs to the sentence before it.
    merged: list[tuple[str, list[int]]] = []
    for bare, markers in raw:
        if not re.search(r"\w", bare) and merged:
            merged[-1] = (merged[-1][0], merged[-1][1] + [m for m in markers if m not in merged[-1][1]])
        elif re.search(r"\w", bare):
            merged.append((bare, markers))
    out: list[AnswerSentence] = []
    pending: list[AnswerSentence] = []
    for bare, markers in merged:
        sentence = AnswerSentence(bare, markers)
        out.append(sentence)
        if markers:
            for p in pending:
                p.markers, p.inherited = list(markers), True
            pending = []
        else:
            pending.append(sentence)
    return out


class SentenceBuffer:
    """Pieces of an answer in, complete sentences out, in order, with the markers `split_answer`
    gives them in the whole text.

    A sentence is complete when the next sentence has begun (a letter after its boundary), so the
    markers written after its full stop ("S1. [1] S2") are in. A sentence without markers inherits
    those of the next cited one ("S1. S2. [1]"), so it waits until that one is complete. `finish()`
    releases the rest at the end of the stream. Sentence boundaries are decided by the characters
    on either side (ingest/segment.py), so text arriving later never moves a released boundary.
    """

    def __init__(self) -> None:
        self.text = ""
        self.released = 0  # sentences of split_answer(self.text) already handed out

    def feed(self, piece: str) -> list[AnswerSentence]:
        """Add a piece of text; return the sentences it made ready (often none)."""
        self.text += piece
        sentences = split_answer(_PARTIAL_MARKER.sub("", self.text))
        started = [i for i, s in enumerate(sentences) if _LETTER.search(s.text)]
        if not started:
            return []
        complete = sentences[: started[-1]]  # the last sentence begun may still grow
        cited = [i for i, s in enumerate(complete) if s.markers and not s.inherited]
        ready = cited[-1] + 1 if cited else 0
        return self._release(complete, ready)

    def finish(self) -> list[AnswerSentence]:
        """The end of the stream: every sentence not yet handed out."""
        sentences = split_answer(self.text)
        return self._release(sentences, len(sentences))

    def _release(self, sentences: list[AnswerSentence], upto: int) -> list[AnswerSentence]:
        out = sentences[self.released : upto]
        self.released = max(self.released, upto)
        return out


_PARTIAL_MARKER = re.compile(r"\[[\d\s,;]*$")  # "[1" or "[1, " at the end: a marker still arriving
_LETTER = re.compile(r"[^\W\d_]")


# --- the check -----------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[“”\"‘’']", "'", text).lower().split())


def _terms(text: str) -> set[str]:
    """Content terms, with -ize spellings read as -ise so "organization" meets "organisation"."""
    return set(content_terms(_IZE.sub("is", text)))


def _pieces(sentence: str) -> list[str]:
    pieces = [p.strip(" .;:,…•") for p in re.split(r";\s+|:\s+", _norm(sentence))]
    return [p for p in pieces if p]


def _is_verbatim(sentence: str, paragraph: str) -> bool:
    """The sentence, or each piece of a rendered list ("lead-in: a; b."), is in the paragraph,
    and it is long enough to say something (a lone quoted word is not a claim)."""
    haystack = _norm(paragraph)
    pieces = _pieces(sentence)
    return len(words(sentence)) >= MIN_VERBATIM_WORDS and bool(pieces) and all(p in haystack for p in pieces)


def _missing_facts(sentence: str, paragraph: str) -> list[str]:
    """The numbers and names of `sentence` that `paragraph` does not hold. A name may be written as its
    acronym on one side and in full on the other ("Defra" against "the Department for Environment, Food
    and Rural Affairs", and the other way round): that is the same name."""
    missing = sorted(numbers(sentence) - numbers(paragraph))
    known = set(words(paragraph))
    names = [(name, words(name)) for name in sorted(capitalised_names(sentence))]
    if any(not all(w in known for w in name_words) for _, name_words in names):
        # Only then (this runs for every sentence an LLM streams): names the paragraph spells out stand for
        # their acronyms, and the words of a name the sentence spells out are there when the paragraph has
        # its acronym.
        paragraph_words = set(known)
        known |= set(spelled_out_names(paragraph))
        known |= {w for acronym, name in spelled_out_names(sentence).items() if acronym in paragraph_words for w in name}
    missing += [name for name, name_words in names if name_words and not all(w in known for w in name_words)]
    return missing


def _windows(evidence: CitedParagraph, vector: np.ndarray) -> tuple[list[list[int]], float]:
    """What the verifier reads of `evidence` for a claim with embedding `vector`: lists of paragraph
    sentence indices (the whole usable paragraph when it is short, else windows around its sentences
    closest to the claim, closest first), and the best single-sentence cosine."""
    usable = evidence.usable
    if not usable:
        return [], 0.0
    sims = evidence.vectors[usable] @ vector
    best_similarity = float(np.max(sims))
    if sum(len(evidence.sentence(i).split()) for i in usable) <= WHOLE_WORDS:
        return [list(usable)], best_similarity
    before = (WINDOW_SENTENCES - 1) // 2
    closest = [int(p) for p in np.argsort(-sims, kind="stable")]
    windows: list[list[int]] = []
    for position in closest[:MAX_WINDOWS]:
        lo = max(0, position - before)
        hi = min(len(usable), lo + WINDOW_SENTENCES)
        lo = max(0, hi - WINDOW_SENTENCES)
        window = [usable[j] for j in range(lo, hi) if abs(usable[j] - usable[position]) <= WINDOW_SENTENCES]
        if window not in windows:
            windows.append(window)
    # A sentence that merges facts from sentences far apart (or from two cited paragraphs read
    # together) is read against its closest sentences together, in their order.
    merged = [usable[j] for j in sorted(closest[:WINDOW_SENTENCES])]
    if merged not in windows:
        windows.append(merged)
    return windows, best_similarity


def _window_text(evidence: CitedParagraph, window: list[int]) -> str:
    return " ".join(evidence.sentence(i).strip() for i in window)


def check_against(sentence: str, vector: np.ndarray, marker: int, evidence: CitedParagraph | None, verifier=None) -> MarkerCheck:
    """Does `evidence` (the paragraph behind `marker`) support `sentence`, contradict it, or neither?
    `verifier`: an assistant.entailment.Verifier (default: the shipped one)."""
    if evidence is None:
        return MarkerCheck(marker, None)
    source = "\n".join(evidence.sentence(i) for i in evidence.usable)
    verbatim = _is_verbatim(sentence, source)
    # A sentence found word for word in the source has its numbers and names there too (the fact
    # check's tokens can differ from the source's: "in May.The Fund" read as the name "May").
    missing = [] if verbatim else _missing_facts(sentence, source)
    windows, similarity = _windows(evidence, vector)
    check = MarkerCheck(marker, evidence.paragraph_id, similarity=similarity, verbatim=verbatim, missing=missing)
    if len(_terms(sentence)) < MIN_TERMS or not windows:
        return check
    if verbatim:
        check.label, check.score, check.similarity = SUPPORTED, 1.0, 1.0
        check.best_sentences = _verbatim_sentences(sentence, evidence) or windows[0]
        return check
    if verifier is None:
        from assistant.entailment import get_verifier

        verifier = get_verifier()
    from assistant.entailment import CONTRADICTION, ENTAILMENT

    probs = verifier.probabilities([(_window_text(evidence, w), sentence) for w in windows])
    entails, contradicts = int(np.argmax(probs[:, ENTAILMENT])), int(np.argmax(probs[:, CONTRADICTION]))
    check.score, check.contradiction = float(probs[entails, ENTAILMENT]), float(probs[contradicts, CONTRADICTION])
    check.label = decide(check.score, check.contradiction, bool(missing), verifier.thresholds)
    check.best_sentences = windows[contradicts] if check.label == CONTRADICTED else windows[entails]
    return check


def decide(score: float, contradiction: float, facts_missing: bool, thresholds) -> str:
    """The label of a checked pair: the model's best P(entailment) and P(contradiction), whether the
    names-and-numbers rule found something missing, and the fitted `thresholds`."""
    if score >= thresholds.supported and not facts_missing:
        return SUPPORTED
    if contradiction >= thresholds.contradicted:
        return CONTRADICTED
    return UNSUPPORTED


def _verbatim_sentences(sentence: str, evidence: CitedParagraph) -> list[int]:
    pieces = _pieces(sentence)
    found = []
    for i in evidence.usable:
        s = _norm(evidence.sentence(i)).strip(" .;:,…•")
        if any(p in s or (s and s in p) for p in pieces):
            found.append(i)
    return found


def verify_sentences(
    sentences: list[AnswerSentence] | str,
    evidence: dict[int, CitedParagraph],
    embedder,
    vectors: np.ndarray | None = None,
    verifier=None,
) -> list[SentenceSupport]:
    """Check each sentence against the paragraphs its markers point to (`evidence` by marker).
    `sentences` may be raw answer text; `vectors` (one per sentence) saves encoding them again."""
    if isinstance(sentences, str):
        sentences = split_answer(sentences)
    if vectors is None:
        vectors = embedder.encode([s.text for s in sentences]) if sentences else np.zeros((0, 1), np.float32)
    report = []
    for sentence, vector in zip(sentences, vectors):
        checks = [check_against(sentence.text, vector, m, evidence.get(m), verifier) for m in sentence.markers]
        supported = any(c.supported for c in checks)
        report.append(SentenceSupport(sentence.text, list(sentence.markers), supported, checks, _reason(sentence, checks)))
    return report


def _reason(sentence: AnswerSentence, checks: list[MarkerCheck]) -> str:
    """Why a sentence is not supported ("" when it is)."""
    if any(c.supported for c in checks):
        return ""
    if not sentence.markers:
        return "cites nothing"
    if all(c.paragraph_id is None for c in checks):
        return "its markers point to no paragraph"
    if len(_terms(sentence.text)) < MIN_TERMS:
        return "says nothing checkable"
    if any(c.label == CONTRADICTED for c in checks):
        return "the cited paragraph contradicts this"
    if any(c.missing for c in checks if c.paragraph_id):
        return "not in the cited paragraph: " + ", ".join(sorted({m for c in checks for m in c.missing}))
    return "the cited paragraph does not say this"


def evidence_from_text(paragraph_id: str, text: str, embedder, spans: list[Span] | None = None, vectors: np.ndarray | None = None) -> CitedParagraph:
    """A CitedParagraph given as text: sentences split as at ingest, vectors encoded
    unless given (the index stores them: `Index.sentence_vectors`)."""
    if not spans:
        from ingest.segment import split_sentences

        spans = split_sentences(text) or [Span(0, len(text))]
    if vectors is None or len(vectors) != len(spans):
        vectors = embedder.encode([text[s.start : s.end] for s in spans])
    return CitedParagraph(paragraph_id, text, list(spans), vectors)


def support_report(answer, embedder, verifier=None) -> list[SentenceSupport]:
    """The check on any Answer: its sentences against the paragraphs of its own citations.
    An abstention reports no sentences (it asserts nothing from the sources)."""
    if answer.abstained:
        return []
    evidence = {c.marker: evidence_from_text(c.paragraph_id, c.text, embedder) for c in answer.citations}
    return verify_sentences(answer.answer, evidence, embedder, verifier=verifier)


@dataclass
class ClaimVerdict:
    """A claim checked against a passage given as text (`assistant verify`, `POST /api/verify`)."""

    id: str
    label: str  # SUPPORTED, CONTRADICTED or UNSUPPORTED
    score: float  # P(supported)
    evidence: str  # the passage's sentence(s) the verdict rests on ("" when there are none)
    reason: str = ""

    def as_json(self) -> dict:
        return {"id": self.id, "label": self.label, "score": round(self.score, 4), "evidence": self.evidence}


def check_claims(items: list[tuple[str, str, str]], embedder, verifier=None) -> list[ClaimVerdict]:
    """(id, claim, source passage) triples -> one verdict each, in order: the claim checked against
    the passage as an answer sentence is against the paragraph it cites."""
    if not items:
        return []
    claim_vectors = embedder.encode([claim for _, claim, _ in items])
    passages: dict[str, CitedParagraph] = {}  # several claims often rest on one passage: split and encode it once
    verdicts = []
    for (item_id, claim, source), vector in zip(items, claim_vectors):
        if source not in passages:
            passages[source] = evidence_from_text("source", source, embedder)
        passage = passages[source]
        sentence = AnswerSentence(" ".join(claim.split()), [1])
        check = check_against(sentence.text, vector, 1, passage, verifier)
        quote = " ".join(passage.sentence(i).strip() for i in check.best_sentences)
        verdicts.append(ClaimVerdict(item_id, check.label, check.score, quote, _reason(sentence, [check])))
    return verdicts


def support_rate(report: list[SentenceSupport]) -> float | None:
    """Share of sentences supported by their citations (ALCE citation recall); None if no sentences."""
    return sum(s.supported for s in report) / len(report) if report else None


def citation_precision(report: list[SentenceSupport]) -> float | None:
    """Share of (sentence, marker) pairs whose paragraph supports the sentence on its own."""
    pairs = [c.supported for s in report for c in s.checks]
    return sum(pairs) / len(pairs) if pairs else None
