"""`assistant bench policy-qa DOCS_DIR --split dev|test`: the assistant on the policy corpus (issue 20),
scored by verbatim evidence quotes, not paragraph ids (ids move when ingest changes; quotes do not).

    assistant bench policy-qa DOCS_DIR --split dev|test [--data-dir DIR] [--out OUTDIR] [--limit N] [--record]

Steps:
1. One index of DOCS_DIR and the bundled sources (`ingest.pipeline.run_ingest`, incremental) in --data-dir,
   by default a folder under the OS temp dir named after DOCS_DIR, reused from run to run.
2. Every question of eval/data/policy_<split>.jsonl asked of `Assistant.ask`, follow-ups with their
   history; three warm-up questions first, so the latency figures are warm.
3. Each answer scored (`score`):
   - A citation is evidence when its document is one the question's evidence is in and its paragraph
     holds one of that document's quotes (`paragraph_holds`, on text normalised by eval.check_data.normalise):
     the paragraph contains the quote as whole words (or, in letters and digits only and with a doubled
     letter read as one, as characters: text rejoined across a PDF's layout, and a quote of a document whose
     split ligatures ingest repaired, "skil s" against "skills"), or the quote contains the paragraph (a quote
     spanning paragraphs), or the paragraph's end overlaps the quote's start or its start the quote's end
     by OVERLAP_WORDS words (half a shorter quote), or at least MIN_WORD_SHARE of the quote's content
     words (`content_words`), every number among them, occur in the paragraph. Metadata questions also accept the document's header paragraph `#p0`.
   - Answerable: `cited` (answered, and a citation is evidence), `cited_wrong` (answered, none is),
     `over_refused` (abstained), `failed`. Unanswerable: `abstained`, `answered`, `failed`.
   - multi_doc questions count as cited when any evidence document is cited right; how many cite every
     evidence document is reported apart.
4. Figures (`aggregate`): cited evidence over answerable questions, abstained over unanswerable ones (near
   misses: unanswerable_on_topic and unanswerable follow-ups; off-topic apart), over-refused over
   answerable, follow-up accuracy (answerable cited, unanswerable abstained), metadata, list and
   multi_doc cited, cited per evidence document, warm ask latency p50/p95 around `Assistant.ask`.

Output: the printed tables; with --out, OUTDIR/policy-qa-<split>.json (aggregate figures), and for the dev
split only OUTDIR/policy-qa-dev-questions.jsonl (each question's outcome and cited paragraphs, to diagnose).
The test split is frozen and run for reported figures: nothing per question is printed or written for it.
With --record a dated section naming the machine and the commit is appended to docs/benchmarks.md.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from eval.bench_common import BenchInputError, BenchResult, Table, fingerprint, percentile, require_path
from eval.check_data import normalise
from ingest.header import HEADER_SUFFIX, header_states

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS_DIR = ROOT / "eval" / "data"
SOURCES = ROOT / "sources"
SPLITS = ("dev", "test")

MIN_WORD_SHARE = 0.60  # share of a quote's content words a paragraph must hold to count as holding it
MIN_SHARED_WORDS = 3  # quotes with fewer content words are matched as text only (one word proves nothing)
OVERLAP_WORDS = 5  # words a paragraph's end must share with a quote's start (or its start with the end)

GATE_FILE = ROOT / "eval" / "policy_thresholds.toml"

NEAR_MISS = "unanswerable_on_topic"
OFF_TOPIC = "unanswerable_off_topic"
FOLLOW_UP = "follow_up"
METADATA = "metadata"
MULTI_DOC = "multi_doc"
LIST = "list"

# Asked before timing starts: they load models and indexes and touch no question of either split.
WARM_UP_QUESTIONS = (
    "What does the guidance say about evaluation?",
    "Who published the strategy?",
    "What are the main priorities?",
)

# Targets of issue 20, on the test split: (figure, bound, "floor" | "ceiling").
TARGETS = {
    "cited_evidence": (0.80, "floor"),
    "abstained": (0.70, "floor"),
    "over_refused": (0.10, "ceiling"),
    "follow_up_accuracy": (0.80, "floor"),
    "metadata_cited": (0.80, "floor"),
    "ask_p50_ms": (250.0, "ceiling"),
}

_STOPWORDS = frozenset(
    """the and for are was were but not with this that these those from into onto over under than then
    there their they them its has have had been being will would could should can may might must shall
    our ours you your who whom whose which what when where why how all any each also such only other
    more most some very about after before between during per via""".split()
)
_WORD = re.compile(r"[a-z0-9]{3,}")


# --- questions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    category: str
    answerable: bool
    evidence: tuple[tuple[str, str], ...]  # (document file name, verbatim quote)
    history: tuple[tuple[str, str], ...] = ()  # (role, content)
    metadata_field: str = ""  # a metadata question's field: author, publisher, date, title or reference

    @property
    def history_dicts(self) -> list[dict]:
        return [{"role": role, "content": content} for role, content in self.history]

    @property
    def evidence_docs(self) -> list[str]:
        return sorted({doc for doc, _ in self.evidence})


def load_questions(path: Path, split: str | None = None) -> list[Question]:
    """The questions of a policy QA file (one JSON object a line), those of `split` when given."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            question = Question(
                id=str(row["id"]), question=row["question"], category=row["category"], answerable=bool(row["answerable"]),
                evidence=tuple((e["doc"], e["quote"]) for e in row.get("evidence") or []),
                history=tuple((h["role"], h["content"]) for h in row.get("history") or []),
                metadata_field=str(row.get("metadata_field") or ""),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise BenchInputError(f"{path}:{number}: not a policy QA question ({exc})") from exc
        if split is None or row.get("split", split) == split:
            questions.append(question)
    return questions


# --- does a paragraph hold a quote -------------------------------------------------------------


def content_words(text: str) -> set[str]:
    """Lower-case alphanumeric words of 3+ characters, less a few function words."""
    return {w for w in _WORD.findall(normalise(text)) if w not in _STOPWORDS}


def _contains_words(text: str, part: str) -> bool:
    """`part` occurs in `text` (both normalised) starting and ending at word boundaries."""
    return bool(part) and re.search(r"(?<!\w)" + re.escape(part) + r"(?!\w)", text) is not None


def _squashed(text: str) -> str:
    """Letters and digits only, and a doubled letter as one: text rejoined across layout ("com- munity",
    "pro-\\nvide") compares equal, and so does a quote keeping a split ligature or a wrong apostrophe glyph that
    ingest repaired ("skil s" against "skills", "child¶s" against "child’s": ingest/ligatures.py, glyphs.py)."""
    return re.sub(r"([a-z])\1+", r"\1", re.sub(r"[\W_]+", "", text))


def _edges_overlap(paragraph_words: list[str], quote_words: list[str]) -> bool:
    """The paragraph ends with the quote's first words, or starts with its last ones: a quote that runs on
    from this paragraph into the next, or in from the previous one ("Clinical aspects" + "Mark Grumbridge
    MHRA ..."). The shared run must be OVERLAP_WORDS words, or half the quote when it is shorter (at least 2)."""
    least = max(2, min(OVERLAP_WORDS, (len(quote_words) + 1) // 2))
    for k in range(min(len(paragraph_words), len(quote_words)), least - 1, -1):
        if paragraph_words[-k:] == quote_words[:k] or paragraph_words[:k] == quote_words[-k:]:
            return True
    return False


def paragraph_holds(paragraph_text: str, quote: str) -> bool:
    """Whether a cited paragraph is the place a quote comes from (see the module docstring)."""
    p, q = normalise(paragraph_text), normalise(quote)
    if not p or not q:
        return False
    if _contains_words(p, q) or (len(q.split()) >= 3 and _squashed(q) in _squashed(p)):
        return True
    if len(p.split()) >= 3 and _contains_words(q, p):  # the quote spans this paragraph and more
        return True
    if _edges_overlap(p.split(), q.split()):
        return True
    words, held = content_words(q), content_words(p)
    numbers = {w for w in words if any(c.isdigit() for c in w)}  # the facts of a quote: none may be missing
    return len(words) >= MIN_SHARED_WORDS and len(words & held) >= MIN_WORD_SHARE * len(words) and numbers <= held


# --- one answer --------------------------------------------------------------------------------


def document_id(file_name: str, doc_ids: Mapping[str, str] | None = None) -> str:
    """The index's id of a document named by file name: as the index gave it when known, else the slug
    ingest gives a file (ids of colliding slugs get a suffix, which only the index knows)."""
    if doc_ids and file_name in doc_ids:
        return doc_ids[file_name]
    from ingest.pipeline import slugify

    return slugify(Path(file_name).stem)


@dataclass
class Outcome:
    """What became of one question."""

    id: str
    category: str
    answerable: bool
    status: str  # the answer's: answered | abstained | failed
    outcome: str  # answerable: cited | cited_wrong | over_refused | failed; else abstained | answered | failed
    cited: list[str] = field(default_factory=list)  # paragraph ids the answer cites, in marker order
    evidence_cited: list[str] = field(default_factory=list)  # those of them that hold an evidence quote
    docs: list[str] = field(default_factory=list)  # evidence documents (file names)
    docs_cited: list[str] = field(default_factory=list)  # evidence documents cited right
    ms: float | None = None  # wall time of Assistant.ask

    def right(self) -> bool:
        return self.outcome in ("cited", "abstained")

    def to_dict(self) -> dict:
        return {"id": self.id, "category": self.category, "answerable": self.answerable, "status": self.status,
                "outcome": self.outcome, "cited": self.cited, "evidence_cited": self.evidence_cited,
                "docs_cited": self.docs_cited, "ms": None if self.ms is None else round(self.ms, 1)}


def findable(question: Question, paragraphs: Mapping[str, list[tuple[str, str]]]) -> bool:
    """Whether any answer could be scored cited: some paragraph the index holds of an evidence document
    (`paragraphs`: file name -> [(paragraph id, text)]) holds one of its quotes, or, for a metadata
    question, the document has a header stating the field asked about. The share of these is the ceiling of the
    cited figure: a quote no paragraph holds is text ingest dropped or split apart."""
    for doc, quote in question.evidence:
        for paragraph_id, text in paragraphs.get(doc, []):
            header = question.category == METADATA and paragraph_id.endswith(HEADER_SUFFIX) and header_states(question.metadata_field, text)
            if header or paragraph_holds(text, quote):
                return True
    return False


def score(question: Question, answer: dict, doc_ids: Mapping[str, str] | None = None, ms: float | None = None) -> Outcome:
    """Score one answer (`Answer.to_dict()`) against the question's evidence quotes."""
    status = answer.get("status") or ("abstained" if answer.get("abstained") else "answered")
    citations = answer.get("citations") or []
    doc_by_id = {document_id(doc, doc_ids): doc for doc in question.evidence_docs}
    evidence_cited, docs_cited = [], set()
    if status == "answered":
        for citation in citations:
            doc = doc_by_id.get(citation.get("document_id"))
            if doc is None:
                continue
            # From a header, only a cited sentence stating the field asked about answers ("Who wrote X?" is not
            # answered by "The document was published on 12 August 2025.").
            header = (question.category == METADATA and citation.get("paragraph_id") == f"{citation['document_id']}{HEADER_SUFFIX}"
                      and header_states(question.metadata_field, citation.get("quote") or citation.get("text") or ""))
            if header or any(paragraph_holds(citation.get("text") or "", quote) for d, quote in question.evidence if d == doc):
                evidence_cited.append(citation.get("paragraph_id"))
                docs_cited.add(doc)
    if status == "failed":
        outcome = "failed"
    elif question.answerable:
        outcome = "over_refused" if status == "abstained" else "cited" if evidence_cited else "cited_wrong"
    else:
        outcome = "abstained" if status == "abstained" else "answered"
    return Outcome(id=question.id, category=question.category, answerable=question.answerable, status=status,
                   outcome=outcome, cited=[c.get("paragraph_id") for c in citations], evidence_cited=evidence_cited,
                   docs=question.evidence_docs, docs_cited=sorted(docs_cited), ms=ms)


# --- figures -----------------------------------------------------------------------------------


def _rate(outcomes: list[Outcome], good) -> dict:
    n = sum(1 for o in outcomes if good(o))
    return {"rate": n / len(outcomes) if outcomes else None, "n": n, "of": len(outcomes)}


def aggregate(outcomes: list[Outcome]) -> dict:
    """The figures of a run: rates (each with its n and of), per category and per evidence document."""
    answerable = [o for o in outcomes if o.answerable]
    unanswerable = [o for o in outcomes if not o.answerable]
    of_category = defaultdict(list)
    for o in outcomes:
        of_category[o.category].append(o)

    def cited(o: Outcome) -> bool:
        return o.outcome == "cited"

    def abstained(o: Outcome) -> bool:
        return o.outcome == "abstained"

    figures = {
        "questions": len(outcomes), "answerable": len(answerable), "unanswerable": len(unanswerable),
        "cited_evidence": _rate(answerable, cited),
        "cited_wrong": _rate(answerable, lambda o: o.outcome == "cited_wrong"),
        "over_refused": _rate(answerable, lambda o: o.outcome == "over_refused"),
        "abstained": _rate(unanswerable, abstained),
        # Near misses: on-topic questions the documents do not answer, alone or as a follow-up.
        "near_misses_abstained": _rate([o for o in unanswerable if o.category in (NEAR_MISS, FOLLOW_UP)], abstained),
        "off_topic_abstained": _rate(of_category[OFF_TOPIC], abstained),
        "follow_up_accuracy": _rate(of_category[FOLLOW_UP], Outcome.right),
        "metadata_cited": _rate(of_category[METADATA], cited),
        "list_cited": _rate(of_category[LIST], cited),
        "multi_doc_cited": _rate(of_category[MULTI_DOC], cited),
        "multi_doc_every_document_cited": _rate(of_category[MULTI_DOC], lambda o: cited(o) and o.docs_cited == o.docs),
        "failed": sum(1 for o in outcomes if o.outcome == "failed"),
        "by_category": {c: {"questions": len(os), "right": _rate(os, Outcome.right),
                            "outcomes": dict(Counter(o.outcome for o in os))} for c, os in sorted(of_category.items())},
    }
    by_document = defaultdict(list)
    for o in answerable:
        for doc in o.docs:
            by_document[doc].append(o)
    figures["cited_by_document"] = {doc: _rate(os, lambda o, doc=doc: o.outcome == "cited" and doc in o.docs_cited)
                                    for doc, os in sorted(by_document.items())}
    ms = [o.ms for o in outcomes if o.ms is not None]
    figures["ask_ms"] = {"p50": percentile(ms, 50), "p95": percentile(ms, 95), "mean": sum(ms) / len(ms) if ms else None}
    figures["ask_p50_ms"] = figures["ask_ms"]["p50"]
    figures["targets"] = {}
    for name, (bound, kind) in TARGETS.items():
        value = figures[name]["rate"] if isinstance(figures[name], dict) else figures[name]
        met = None if value is None else value >= bound if kind == "floor" else value <= bound
        figures["targets"][name] = {"bound": bound, "kind": kind, "value": value, "met": met}
    return figures


def gate_failures(figures: dict, path: Path = GATE_FILE) -> list[str]:
    """The figures outside their bounds in `path` ([floors] and [ceilings] of aggregate rates), as lines
    to print; a figure that could not be computed (no question of its kind) fails too."""
    import tomllib

    bounds = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    failures = []
    for section, kind in (("floors", "floor"), ("ceilings", "ceiling")):
        for name, bound in bounds.get(section, {}).items():
            if name not in figures or not isinstance(figures[name], dict):
                raise BenchInputError(f"{path}: {name!r} is not a rate of the policy QA figures")
            value = figures[name]["rate"]
            if value is None or (kind == "floor" and value < bound) or (kind == "ceiling" and value > bound):
                shown = "not computed" if value is None else f"{value:.3f}"
                failures.append(f"{name} = {shown} is {'below its floor' if kind == 'floor' else 'above its ceiling'} {bound:.3f}")
    return failures


def _cells(rate: dict) -> tuple:
    return rate["rate"], f"{rate['n']} / {rate['of']}"


def _target(name: str) -> str:
    if name not in TARGETS:
        return ""
    bound, kind = TARGETS[name]
    return f"{'>=' if kind == 'floor' else '<='} {bound:g}"


def tables(figures: dict) -> list[Table]:
    summary = Table(f"Policy QA, {figures['split']} split: {figures['questions']} questions, "
                    f"{figures['documents']} documents ({figures['paragraphs']:,} paragraphs) in one index",
                    ["figure", "rate", "n / of", "target (test split)"])
    for name, label in (("evidence_findable", "answerable with a quote the index holds (ceiling)"),
                        ("cited_evidence", "cited evidence (answerable)"), ("cited_wrong", "answered, evidence not cited"),
                        ("over_refused", "over-refused (answerable)"), ("abstained", "abstained (unanswerable)"),
                        ("near_misses_abstained", "near misses abstained"), ("off_topic_abstained", "off-topic abstained"),
                        ("follow_up_accuracy", "follow-ups right"), ("metadata_cited", "metadata cited"),
                        ("list_cited", "list cited"), ("multi_doc_cited", "multi-document: any document cited"),
                        ("multi_doc_every_document_cited", "multi-document: every document cited")):
        summary.add(label, *_cells(figures[name]), _target(name))
    ms = figures["ask_ms"]
    summary.add("warm ask p50 / p95 ms", ms["p50"], f"p95 {ms['p95']:.0f}" if ms["p95"] is not None else None, _target("ask_p50_ms"))
    summary.note = (f"{figures['answerer']}. Index {figures['data_dir']}: {figures['ingest']}. "
                    f"Failed answers: {figures['failed']}. Run took {figures['seconds']:.0f} s.")
    by_category = Table("By category", ["category", "questions", "right", "rate", "outcomes"])
    for category, c in figures["by_category"].items():
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(c["outcomes"].items()))
        by_category.add(category, c["questions"], c["right"]["n"], c["right"]["rate"], outcomes)
    by_category.note = "Right: answerable questions cited with evidence, unanswerable ones abstained."
    by_document = Table("Cited evidence by document (answerable questions)", ["document", "questions", "cited", "rate"])
    for doc, r in figures["cited_by_document"].items():
        by_document.add(doc, r["of"], r["n"], r["rate"])
    return [summary, by_category, by_document]


# --- the run -----------------------------------------------------------------------------------


def default_data_dir(docs: Path) -> Path:
    """The index folder when --data-dir is not given: one per corpus folder, kept between runs."""
    return Path(tempfile.gettempdir()) / f"cited-assistant-policy-qa-{fingerprint(str(docs.resolve()))}"


def _document_ids(documents, folders: list[Path]) -> dict[str, str]:
    """File name -> document id, for the index's documents that live in `folders`."""
    roots = [str(f.resolve()) for f in folders]
    return {Path(d.path).name: d.id for d in documents if any(d.path.startswith(r.rstrip("/") + "/") for r in roots)}


def _ask(assistant, question: Question):
    from assistant.answer import Answer

    try:
        return assistant.ask(question.question, history=question.history_dicts or None, id=question.id)
    except Exception as exc:  # noqa: BLE001 - one question that raises is a failed answer, not a failed run
        return Answer.failed(question.question, f"{exc.__class__.__name__}: {exc}", id=question.id)


def bench_policy_qa(args) -> BenchResult:
    from assistant.config import Config
    from assistant.core import Assistant
    from eval.suite import describe_answerer
    from ingest.pipeline import run_ingest

    docs = require_path(args, "the policy corpus's docs folder")
    split = getattr(args, "split", None) or "dev"
    if split not in SPLITS:
        raise BenchInputError(f"--split must be one of {', '.join(SPLITS)}")
    questions_path = QUESTIONS_DIR / f"policy_{split}.jsonl"
    if not questions_path.exists():
        raise BenchInputError(f"{questions_path} does not exist")
    questions = load_questions(questions_path, split)
    if getattr(args, "limit", None):
        questions = questions[: args.limit]

    started = time.perf_counter()
    data_dir = Path(args.data_dir) if getattr(args, "data_dir", None) else default_data_dir(docs)
    config = Config.from_env(data_dir=data_dir)
    print(f"ingesting {docs} and {SOURCES} into {data_dir} (incremental) ...", file=sys.stderr, flush=True)
    ingested = run_ingest([docs, SOURCES], config, progress=sys.stderr.isatty())
    assistant = Assistant.open(config=config)
    documents = assistant.index.documents()
    doc_ids = _document_ids(documents, [docs, SOURCES])
    missing = sorted({doc for q in questions for doc in q.evidence_docs if doc not in doc_ids})
    if missing:  # the questions are still asked: they cannot be cited, which the figures then show
        print(f"warning: {len(missing)} evidence document(s) not in the index: {', '.join(missing)}", file=sys.stderr)

    paragraphs = {doc: [(p.id, p.text) for p in assistant.index.paragraphs_of(doc_ids[doc])]
                  for q in questions for doc in q.evidence_docs if doc in doc_ids}
    evidence_findable = _rate([q for q in questions if q.answerable], lambda q: findable(q, paragraphs))

    assistant.warm_up()
    for warm_up in WARM_UP_QUESTIONS:
        assistant.ask(warm_up)
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=len(questions), desc="asking", unit="q", file=sys.stderr, dynamic_ncols=True)
    outcomes = []
    for question in questions:
        t = time.perf_counter()
        answer = _ask(assistant, question)
        ms = (time.perf_counter() - t) * 1000
        outcomes.append(score(question, answer.to_dict(), doc_ids, ms))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()

    figures = aggregate(outcomes)
    figures.update({
        "evidence_findable": evidence_findable,
        "split": split, "docs_dir": str(docs), "data_dir": str(data_dir), "questions_file": str(questions_path),
        "documents": len(documents), "paragraphs": assistant.index.paragraph_count(),
        "missing_evidence_documents": missing, "answerer": describe_answerer(config),
        "ingest": ingested.summary().splitlines()[0], "ingest_skipped": [f"{s.path}: {s.reason}" for s in ingested.skipped],
        "seconds": time.perf_counter() - started,
    })
    result = BenchResult(
        f"policy-qa-{split}", figures, tables(figures),
        record_heading=f"Policy QA, {split} split",
        record_description=(f"`assistant bench policy-qa {docs} --split {split}`: the corpus and the bundled sources in one "
                            f"index; {figures['answerer']}."),
        recorded_tables=2,  # the summary and the categories; the per-document table stays in the output and the JSON
    )
    if getattr(args, "gate", False):
        failures = gate_failures(figures)
        result.ok = not failures
        if failures:
            print(f"policy gate FAILED on the {split} split ({GATE_FILE}):\n  " + "\n  ".join(failures), file=sys.stderr)
        else:
            print(f"policy gate passed: every figure within its bound ({GATE_FILE})", file=sys.stderr)
    folder = Path(args.out) if getattr(args, "out", None) else None
    if folder is not None and split == "dev":  # never per question for the frozen test split
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"policy-qa-{split}-questions.jsonl"
        path.write_text("".join(json.dumps(o.to_dict(), ensure_ascii=False) + "\n" for o in outcomes), encoding="utf-8")
        result.files.append(str(path))
    return result
