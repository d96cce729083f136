"""`assistant bench ingest-quality DIR`: how true the titles and how clean the paragraphs that ingest makes
from a folder of real documents (issue 19), and how fast it parses them.

Every file is parsed by the product's own `ingest.pipeline.parse_document` (load + clean + segment, no
embedding) under the id `assign_ids` gives it, so the figures are those of what ingest writes. No metadata
sidecar is read: the figures are what the documents themselves give. The header unit (`#p0`) is written
by ingest from the metadata, not found in the document: it is in no paragraph figure.

The rules, each a function below:
- Title right (`title_right`): the found and the reference title are normalised (NFKC, lower case, "&"
  read as "and", apostrophes dropped, every other punctuation mark a space). The title is right when the
  two are equal, or when one contains the other as a run of whole words and the shorter has at least 60%
  of the longer's words. A trailing parenthesised note of the reference ("(GOV.UK page printed to PDF)",
  "(working draft)") is the corpus maker's annotation: the reference without it is accepted too. A title
  that is the file's own name is what parse_document falls back to when it finds none: it is never right.
- Publisher agrees (`publisher_agrees`): by the title rule, against the reference or any of its parts
  (split at "/", ",", ";" and parentheses). Date agrees (`date_agrees`): the year and, where the reference
  gives one, the month match one of the reference's dates outside parentheses ("published n/a; updated
  2016-01-26", "02.2024", "ratified December 2024 (review December 2027)"). Both are judged only where
  ingest found a publisher or a date.
- Split-sentence pair (`split_pairs`): two consecutive paragraphs of a document where the first ends without
  closing punctuation (. ! ? : ; possibly followed by closing quotes or brackets) and the next starts with a
  lower-case letter, or where the first ends in a hyphen. The rate is pairs / paragraphs (target <= 2%).
- Debris (`debris_kinds`): a paragraph holding a Markdown escape (a backslash before ASCII punctuation), a
  stray "**" or "__" (exactly two underscores: longer runs are form blanks), GOV.UK banner text (with its
  capitals), contents (a run of 4+ dot leaders before a number; a contents entry "Title 12" next to another;
  a contents list run into a paragraph: "Contents" and 3+ rising page numbers, each between a word and a
  capitalised word that is not a month), a control character other than newline and tab, or U+FFFD.
  Counted per kind over all paragraphs, and over content paragraphs (kinds not in NON_CONTENT_KINDS: a
  contents list or a banner marked as such is where it belongs).
- Pages: a PDF's page count as its loader gives it (LoadedDocument.page_count, carried by the Document); other
  formats, and a PDF whose loader gives none, words / 400 (the corpus's printed-page estimate).
- Throughput: documents, paragraphs and pages per second of parse_document's wall time, in the same run.
- Page accuracy (PDF): each content sentence of at least four words is looked up by its first six words in
  poppler's `pdftotext` text of every page (an independent reader); where it is found, the page a citation of
  it would give (`Paragraph.page_at` its start) must be one of the pages it is on (target >= 0.95).

With --record the tables are appended to docs/benchmarks.md as a dated section naming the machine and commit.
"""

from __future__ import annotations

import re
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from eval.bench_common import BenchInputError, BenchResult, Table, require_path

TARGET_TITLES_RIGHT = 0.90
TARGET_SPLIT_RATE = 0.02
TARGET_PAGE_RIGHT = 0.95
TITLE_MIN_WORD_SHARE = 0.60
WORDS_PER_PAGE = 400

# --- titles, publishers, dates -------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """What SOURCES.md says a file is."""

    title: str
    publisher: str = ""
    date: str = ""


def read_sources_md(path: Path) -> dict[str, Reference]:
    """File name -> Reference, from every Markdown table of `path` with "file" and "title" columns."""
    references: dict[str, Reference] = {}
    headers: list[str] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line.startswith("|"):
            headers = None  # a table ends at its first line that is not a row
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if headers is None:
            headers = [cell.lower() for cell in cells]
            continue
        if all(set(cell) <= set("-: ") for cell in cells) or not {"file", "title"} <= set(headers):
            continue  # the separator row, or a table of something else
        row = dict(zip(headers, cells))
        references[row["file"].strip("` ")] = Reference(row["title"], row.get("publisher", ""), row.get("date", ""))
    return references


def normalise(text: str) -> list[str]:
    """The words of `text` for comparing names: NFKC, lower case, "&" as "and", apostrophes dropped,
    other punctuation a space."""
    text = unicodedata.normalize("NFKC", text).lower().replace("&", " and ")
    text = re.sub(r"['’‘`]", "", text)
    return re.sub(r"[\W_]+", " ", text).split()


def _contains(longer: list[str], shorter: list[str]) -> bool:
    return any(longer[i : i + len(shorter)] == shorter for i in range(len(longer) - len(shorter) + 1))


def names_match(found: str, reference: str) -> bool:
    """Equal after `normalise`, or one holds the other as whole words and the shorter has at least 60% of
    the longer's words."""
    a, b = normalise(found), normalise(reference)
    if not a or not b:
        return False
    if a == b:
        return True
    shorter, longer = sorted((a, b), key=len)
    return len(shorter) >= TITLE_MIN_WORD_SHARE * len(longer) and _contains(longer, shorter)


def title_right(found: str, reference: str) -> bool:
    """The module docstring's title rule; also against the reference without a trailing (note)."""
    without_note = re.sub(r"\s*\([^()]*\)\s*$", "", reference)
    return names_match(found, reference) or (bool(without_note) and names_match(found, without_note))


def publisher_agrees(found: str, reference: str) -> bool:
    parts = [reference, *re.split(r"[/,;()]", reference)]
    return any(names_match(found, part) for part in parts if part.strip())


_MONTHS = {name: n for n, names in enumerate(
    [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
     ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
     ("december", "dec")], start=1) for name in names}
_DATE = re.compile(
    r"(?P<iso_y>(?:19|20)\d\d)-(?P<iso_m>\d\d)(?:-\d\d)?"  # 2016-01-26, 2016-01
    r"|\b(?:\d{1,2}[./])?(?P<num_m>\d{1,2})[./](?P<num_y>(?:19|20)\d\d)\b"  # 02.2024, 26/01/2016
    r"|\b(?P<name_m>[A-Za-z]{3,9})\.?\s+(?P<name_y>(?:19|20)\d\d)\b"  # December 2024, 5 April 2023
    r"|\b(?P<year>(?:19|20)\d\d)\b"
)


def dates_in(text: str) -> list[tuple[int, int | None]]:
    """(year, month or None) of each date written in `text`, in order."""
    dates = []
    for m in _DATE.finditer(text):
        if m["iso_y"]:
            dates.append((int(m["iso_y"]), int(m["iso_m"])))
        elif m["num_y"]:
            dates.append((int(m["num_y"]), int(m["num_m"])))
        elif m["name_y"]:
            month = _MONTHS.get(m["name_m"].lower())
            dates.append((int(m["name_y"]), month))  # "Budget 2017": a year, no month
        else:
            dates.append((int(m["year"]), None))
    return [(year, month if month and 1 <= month <= 12 else None) for year, month in dates]


def date_agrees(found: str, reference: str) -> bool:
    """The found date's year, and month where the reference gives one, match a reference date outside
    parentheses (parenthesised dates are reviews and snapshots, not the publication)."""
    stated = dates_in(found)
    if not stated:
        return False
    year, month = stated[0]
    return any(year == ref_year and (ref_month is None or month == ref_month)
               for ref_year, ref_month in dates_in(re.sub(r"\([^()]*\)", " ", reference)))


# --- paragraphs --------------------------------------------------------------------------------

_CLOSED = re.compile(r"[.!?:;][\"'”’»)\]}]*$")
_HYPHEN_END = re.compile(r"[-\u2010\u2011\u00ad]$")

DEBRIS_KINDS = ("markdown escape", "stray ** or __", "GOV.UK banner", "contents", "control character", "U+FFFD")
_ESCAPE = re.compile(r"\\[!-/:-@\[-`{-~]")
_EMPHASIS = re.compile(r"\*\*|(?<!_)__(?!_)")
# The banners' own capitals: "able to register to vote" is prose.
_BANNER = re.compile(r"Register to vote|Cookies on GOV\.UK|Is this page useful")
# Leaders lead to a page number: "reasonably necessary .... for work" is an ellipsis and a full stop.
_DOT_LEADERS = re.compile(r"\.(?:\s?\.){3,}\s*\d")
_SECTION_NUMBER = re.compile(r"^(?:[•·\-]\s*)?(?:[A-Z]|\d+(?:\.\d+)*)[.)]?\s+(?=\S)")
# "Our priorities 14": a title (no sentence, no table row's ";"), a word, a page number ("Staff: 120" is a row).
_ENTRY = re.compile(r"^[A-Z][^.!?;]*?[A-Za-z)’']\s+\d{1,3}$")
_MONTH = (r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
          r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\b")
_RUN_IN_PAGE = re.compile(rf"(?<=[A-Za-z)’'])\s(\d{{1,3}})\s(?=[A-Z])(?!{_MONTH})")  # "on 4 July 2020" is a date


def is_split(first: str, second: str) -> bool:
    """The module docstring's split-sentence rule for two consecutive paragraphs."""
    first, second = first.rstrip(), second.lstrip()
    if _HYPHEN_END.search(first):
        return True
    return bool(first and second) and not _CLOSED.search(first) and second[0].islower()


def split_pairs(texts: list[str]) -> int:
    return sum(is_split(a, b) for a, b in zip(texts, texts[1:]))


def _entry_lines(text: str) -> int:
    """How many lines of `text` are contents entries ("2.1 Our priorities 14"), at most 15 words each."""
    count = 0
    for line in text.split("\n"):
        line = _SECTION_NUMBER.sub("", line.strip(), count=1)
        count += len(line.split()) <= 15 and bool(_ENTRY.match(line))
    return count


def _run_in_contents(text: str) -> bool:
    """A contents list run into a paragraph: "Contents", then 3+ rising page numbers each between a word and a
    capital (without "Contents" such numbers are as often footnote marks run into the text)."""
    if not re.search(r"\bContents\b|\bCONTENTS\b", text):
        return False
    pages = [int(n) for n in _RUN_IN_PAGE.findall(text)]
    return any(pages[i] < pages[i + 1] < pages[i + 2] for i in range(len(pages) - 2))


def debris_kinds(texts: list[str]) -> list[set[str]]:
    """The debris kinds (DEBRIS_KINDS) each paragraph of one document holds, in order. A single contents
    entry counts only next to another: a lone "Priority 2" or "Table 3" is a name, not an entry."""
    entries = [_entry_lines(text) for text in texts]
    found = []
    for i, text in enumerate(texts):
        kinds = set()
        if _ESCAPE.search(text):
            kinds.add("markdown escape")
        if _EMPHASIS.search(text):
            kinds.add("stray ** or __")
        if _BANNER.search(text):
            kinds.add("GOV.UK banner")
        beside_entry = (i > 0 and entries[i - 1] > 0) or (i + 1 < len(texts) and entries[i + 1] > 0)
        if _DOT_LEADERS.search(text) or entries[i] >= 2 or (entries[i] == 1 and beside_entry) or _run_in_contents(text):
            kinds.add("contents")
        if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
            kinds.add("control character")
        if "\ufffd" in text:
            kinds.add("U+FFFD")
        found.append(kinds)
    return found


# --- one document ------------------------------------------------------------------------------


@dataclass
class DocumentQuality:
    id: str
    file: str
    format: str
    title: str = ""
    reference_title: str | None = None
    title_right: bool | None = None  # None: no reference for this file
    title_is_file_name: bool = False  # ingest found no title and fell back to the file's name
    publisher: str = ""
    publisher_agrees: bool | None = None  # None: ingest found no publisher, or no reference publisher
    date: str = ""
    date_agrees: bool | None = None
    paragraphs: int = 0
    words: int = 0
    pages: float = 0.0
    pages_counted: bool = False  # True: the PDF's page count; False: words / 400
    split_pairs: int = 0
    debris: dict[str, int] = field(default_factory=dict)  # kind -> paragraphs, all paragraphs
    debris_in_content: dict[str, int] = field(default_factory=dict)
    debris_paragraphs: int = 0
    non_content: int = 0
    dropped: int = 0
    pages_checked: int = 0  # PDF: content sentences whose page was checked against pdftotext
    pages_right: int = 0  # ... of them found on the page their paragraph says they start on
    seconds: float = 0.0
    error: str = ""  # why the document could not be parsed


def measure_document(path: Path, document_id: str, reference: Reference | None, max_bytes: int) -> DocumentQuality:
    from assistant.records import NON_CONTENT_KINDS
    from ingest.header import HEADER_KIND
    from ingest.loaders import UnreadableDocument
    from ingest.pipeline import parse_document

    quality = DocumentQuality(document_id, path.name, path.suffix.lower().lstrip("."),
                              reference_title=reference.title if reference else None)
    started = time.perf_counter()
    try:
        document = parse_document(path, document_id, "default", {}, max_bytes)
    except UnreadableDocument as exc:
        quality.error = str(exc)
        return quality
    except Exception as exc:  # noqa: BLE001 - one document's failure is a figure, not the end of the run
        quality.error = f"{exc.__class__.__name__}: {exc}"
        return quality
    quality.seconds = time.perf_counter() - started

    quality.title, quality.publisher, quality.date = document.title, document.publisher, document.date
    quality.title_is_file_name = document.title == path.stem
    if reference:
        quality.title_right = not quality.title_is_file_name and title_right(document.title, reference.title)
        if document.publisher and re.sub(r"\([^()]*\)", "", reference.publisher).strip():
            quality.publisher_agrees = publisher_agrees(document.publisher, reference.publisher)
        if document.date and dates_in(re.sub(r"\([^()]*\)", " ", reference.date)):
            quality.date_agrees = date_agrees(document.date, reference.date)

    paragraphs = [p for p in document.paragraphs if p.kind != HEADER_KIND]
    texts = [p.text for p in paragraphs]
    quality.paragraphs = len(paragraphs)
    quality.words = sum(len(text.split()) for text in texts)
    quality.pages_counted = bool(document.page_count)
    quality.pages = float(document.page_count) if document.page_count else quality.words / WORDS_PER_PAGE
    quality.split_pairs = split_pairs(texts)
    for paragraph, kinds in zip(paragraphs, debris_kinds(texts)):
        quality.debris_paragraphs += bool(kinds)
        for kind in kinds:
            quality.debris[kind] = quality.debris.get(kind, 0) + 1
            if paragraph.kind not in NON_CONTENT_KINDS:
                quality.debris_in_content[kind] = quality.debris_in_content.get(kind, 0) + 1
    quality.non_content = sum(p.kind in NON_CONTENT_KINDS for p in paragraphs)
    quality.dropped = len(document.dropped)
    if quality.format == "pdf":
        quality.pages_checked, quality.pages_right = page_accuracy(path, [p for p in paragraphs if p.kind not in NON_CONTENT_KINDS])
    return quality


def pdf_pages_text(path: Path) -> list[str] | None:
    """Each page's text as poppler's pdftotext reads it (an independent reader), squashed for matching;
    None when pdftotext is not installed."""
    import shutil
    import subprocess

    from eval.check_data import _squash, normalise as normalise_text

    if shutil.which("pdftotext") is None:
        return None
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=False).stdout
    return [_squash(normalise_text(page)) for page in out.split("\f")]


def page_accuracy(path: Path, paragraphs) -> tuple[int, int]:
    """(sentences checked, sentences found on their page): a citation quoting a sentence says it starts on
    `paragraph.page_at(sentence start)`; pdftotext must find the sentence's first six words on that page.
    Sentences pdftotext finds on no page at all (text it reads differently) are not counted."""
    from eval.check_data import _squash, normalise as normalise_text

    pages = pdf_pages_text(path)
    if pages is None:
        return 0, 0
    checked = right = 0
    for paragraph in paragraphs:
        for span in paragraph.sentences:
            words = paragraph.text[span.start : span.end].lstrip("• ").split()[:6]
            if len(words) < 4:
                continue
            probe = _squash(normalise_text(" ".join(words)))
            on = [i + 1 for i, page in enumerate(pages) if probe in page]
            if not on:
                continue
            checked += 1
            right += paragraph.page_at(span.start) in on
    return checked, right


# --- the benchmark -----------------------------------------------------------------------------


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _sources_md(args, folder: Path) -> Path | None:
    """--sources-md, else a SOURCES.md in DIR or beside it (the policy corpus keeps it beside docs/)."""
    if getattr(args, "sources_md", None):
        path = Path(args.sources_md).expanduser()
        if not path.is_file():
            raise BenchInputError(f"{path} does not exist (--sources-md: a SOURCES.md with file | title | ... tables)")
        return path
    return next((p for p in (folder / "SOURCES.md", folder.parent / "SOURCES.md") if p.is_file()), None)


def _totals(documents: list[DocumentQuality]) -> dict:
    """The figures of a set of parsed documents."""
    judged = [d for d in documents if d.title_right is not None]
    paragraphs = sum(d.paragraphs for d in documents)
    pages = sum(d.pages for d in documents)
    split = sum(d.split_pairs for d in documents)
    return {
        "documents": len(documents), "paragraphs": paragraphs, "pages": pages, "words": sum(d.words for d in documents),
        "paragraphs_per_page": _share(paragraphs, pages),
        "titles_judged": len(judged), "titles_right": sum(d.title_right for d in judged),
        "titles_right_share": _share(sum(d.title_right for d in judged), len(judged)),
        "split_pairs": split, "split_rate": _share(split, paragraphs),
        "debris_paragraphs": sum(d.debris_paragraphs for d in documents),
        "non_content_paragraphs": sum(d.non_content for d in documents),
        "pdf_sentences_page_checked": sum(d.pages_checked for d in documents),
        "pdf_page_right_share": _share(sum(d.pages_right for d in documents), sum(d.pages_checked for d in documents)),
        "dropped_lines": sum(d.dropped for d in documents),
    }


def bench_ingest_quality(args) -> BenchResult:
    from assistant.config import Config
    from ingest.pipeline import assign_ids, discover

    folder = require_path(args, "a folder of documents, e.g. ../shared/bench/policy-corpus/docs")
    sources_md = _sources_md(args, folder)
    references = read_sources_md(sources_md) if sources_md else {}
    files, unsupported = discover([folder])
    if getattr(args, "limit", None):
        files = files[: args.limit]
    ids = assign_ids(files, [folder], {})
    max_bytes = Config.from_env().max_file_bytes

    print(f"parsing {len(files)} files of {folder} ...", file=sys.stderr, flush=True)
    cpu_started = time.process_time()
    measured = [measure_document(path, ids[path], references.get(path.name), max_bytes) for path in files]
    cpu_seconds = time.process_time() - cpu_started
    parsed = [d for d in measured if not d.error]
    failed = [d for d in measured if d.error]

    seconds = sum(d.seconds for d in parsed)
    overall = _totals(parsed)
    publishers = [d.publisher_agrees for d in parsed if d.publisher_agrees is not None]
    dates = [d.date_agrees for d in parsed if d.date_agrees is not None]
    debris = {kind: sum(d.debris.get(kind, 0) for d in parsed) for kind in DEBRIS_KINDS}
    debris_in_content = {kind: sum(d.debris_in_content.get(kind, 0) for d in parsed) for kind in DEBRIS_KINDS}
    formats = sorted({d.format for d in parsed})
    figures = {
        "corpus": str(folder), "sources_md": str(sources_md) if sources_md else None,
        "files": len(files), "parsed": len(parsed),
        "failed": [{"file": d.file, "reason": d.error} for d in failed],
        "unsupported": [f"{s.path}: {s.reason}" for s in unsupported],
        **overall,
        "without_reference": [d.file for d in parsed if d.title_right is None],
        "publishers_stated": len(publishers), "publishers_agree": sum(publishers),
        "dates_stated": len(dates), "dates_agree": sum(dates),
        "debris_by_kind": debris, "debris_by_kind_in_content_paragraphs": debris_in_content,
        "parse_seconds": seconds, "parse_cpu_seconds": cpu_seconds,
        "documents_per_s": _share(len(parsed), seconds), "paragraphs_per_s": _share(overall["paragraphs"], seconds),
        "pages_per_s": _share(overall["pages"], seconds),
        "by_format": {fmt: _totals([d for d in parsed if d.format == fmt]) for fmt in formats},
        "targets": {"titles_right_share": TARGET_TITLES_RIGHT, "split_rate": TARGET_SPLIT_RATE,
                    "pdf_page_right_share": TARGET_PAGE_RIGHT,
                    "markdown_escapes_and_banners": 0},
        "per_document": measured,
    }

    summary = Table(f"Ingest quality of {folder} ({len(parsed)} of {len(files)} files parsed)", ["figure", "value", "target"])
    summary.add("titles right", f"{overall['titles_right']} of {overall['titles_judged']}", None)
    summary.add("titles right, share", overall["titles_right_share"], f">= {TARGET_TITLES_RIGHT}")
    summary.add("publishers agreeing / stated", f"{sum(publishers)} / {len(publishers)}", None)
    summary.add("dates agreeing / stated", f"{sum(dates)} / {len(dates)}", None)
    summary.add("paragraphs", overall["paragraphs"], None)
    summary.add("split-sentence pairs", overall["split_pairs"], None)
    summary.add("split-sentence pairs / paragraphs", overall["split_rate"], f"<= {TARGET_SPLIT_RATE}")
    summary.add("debris paragraphs (any kind)", overall["debris_paragraphs"], None)
    summary.add("non-content paragraphs (contents, notice, banner, references)", overall["non_content_paragraphs"], None)
    summary.add("dropped lines", overall["dropped_lines"], None)
    summary.add("pages (PDF: page count; others: words / 400)", overall["pages"], None)
    summary.add("paragraphs per page", overall["paragraphs_per_page"], None)
    summary.add(f"PDF sentences on the page their citation gives (pdftotext, {overall['pdf_sentences_page_checked']} checked)",
                overall["pdf_page_right_share"], f">= {TARGET_PAGE_RIGHT}")
    summary.add("parse (load + clean + segment) s", seconds, None)
    summary.add("CPU s of the run (steadier than wall time when other work shares the cores)", cpu_seconds, None)
    summary.add("documents / paragraphs / pages per s",
                " / ".join(f"{v:.1f}" if v is not None else "-" for v in
                           (figures["documents_per_s"], figures["paragraphs_per_s"], figures["pages_per_s"])), None)
    if failed:
        summary.note = "Not parsed: " + "; ".join(f"{d.file}: {d.error}" for d in failed)

    debris_table = Table("Debris paragraphs by kind", ["kind", "paragraphs", "of them content paragraphs", "target"])
    for kind in DEBRIS_KINDS:
        target = "0" if kind in ("markdown escape", "GOV.UK banner") else None
        debris_table.add(kind, debris[kind], debris_in_content[kind], target)

    by_format = Table("By format", ["format", "documents", "titles right", "paragraphs", "pages", "paragraphs/page",
                                    "split pairs", "split rate", "debris paragraphs"])
    for fmt, t in figures["by_format"].items():
        by_format.add(fmt, t["documents"], f"{t['titles_right']} of {t['titles_judged']}", t["paragraphs"], t["pages"],
                      t["paragraphs_per_page"], t["split_pairs"], t["split_rate"], t["debris_paragraphs"])

    per_document = Table("Per document", ["id", "format", "title found", "right", "paragraphs", "pages", "split pairs",
                                          "debris", "non-content", "dropped"])
    for d in measured:
        if d.error:
            per_document.add(d.id, d.format, f"NOT PARSED: {d.error}", None, None, None, None, None, None, None)
            continue
        title = d.title if len(d.title) <= 60 else d.title[:57] + "..."
        right = {True: "yes", False: "no", None: "-"}[d.title_right]
        if d.title_right is False and d.title_is_file_name:
            right = "no (file name)"
        per_document.add(d.id, d.format, title.replace("|", "/"), right, d.paragraphs,
                         f"{d.pages:.0f}" if d.pages_counted else f"~{d.pages:.1f}", d.split_pairs,
                         d.debris_paragraphs, d.non_content, d.dropped)
    return BenchResult(
        "ingest-quality", figures, [summary, debris_table, by_format, per_document],
        record_heading=f"Ingest quality: {folder.name}",
        record_description=f"`assistant bench ingest-quality {folder}` (references: {sources_md or 'none'}).",
        recorded_tables=3,  # the per-document table stays in the printed output and the JSON
    )
