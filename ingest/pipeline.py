"""The ingest run: find files, load and clean them, embed what changed, write the index.

Incremental by content hash: an unchanged document costs one hash and one catalog read; a changed
one is re-embedded alone; a document gone from the given folders is deleted from every index.
Each document is committed on its own (see assistant/index.py for the write order), so a run that
is killed part-way loses only the batch in flight and the next run picks up from there. Against a
Chroma server (`ASSISTANT_CHROMA_HOST`) the same holds: a document is published by its record on the
server, written after its paragraphs and sentences, and app processes serving meanwhile see only
published documents (assistant/index_server.py).
One bad file never aborts the run: it is skipped with its reason.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from assistant.config import DEFAULT_COLLECTION, Config
from assistant.embedding import paragraph_vector
from assistant.records import Document, Paragraph
from ingest.cleaning import CLEANER_VERSION, CleanDocument, clean
from ingest.glyphs import repair_wrong_glyphs
from ingest.header import HEADER_VERSION, header_paragraph
from ingest.ligatures import repair_split_ligatures
from ingest.loaders import LOADER_VERSIONS, SUPPORTED_EXTENSIONS, LoadedDocument, UnreadableDocument, load
from ingest.metadata import (cover_title, generic_title, merged_metadata, starts_cover_organisation, stated_metadata,
                             title_from_blocks)
from ingest.segment import split_sentences
from ingest.signoff import foreword_signoff

METADATA_FILE = "metadata.toml"
# Files that live beside documents but are not documents.
IGNORED_NAMES = {METADATA_FILE, "readme.md", ".gitkeep", ".ds_store"}
# Bump when the way paragraph vectors are made changes: every document is then re-embedded.
# 3: each document with metadata gets its header unit, `#p0` (ingest/header.py).
VECTOR_RULE_VERSION = "3"


class IngestError(Exception):
    """The run cannot start (another ingest holds the lock, a path does not exist)."""


@dataclass
class Skipped:
    path: str
    reason: str


@dataclass
class DocumentSummary:
    """What ingest made of one document, for its report: paragraphs, pages, what it set aside and why."""

    document_id: str
    paragraphs: int
    pages: int | None
    non_content: dict[str, int]  # kind -> paragraphs ("contents", "notice", ...)
    set_aside: dict[str, int]  # reason -> lines in no paragraph

    @classmethod
    def of(cls, document: Document) -> "DocumentSummary":
        from collections import Counter

        body = [p for p in document.paragraphs if p.kind != "header"]
        non_content = Counter(p.kind for p in body if not p.is_content)
        set_aside = Counter(re.sub(r" \(.*\)$", "", d.reason) for d in document.dropped)
        return cls(document.id, len(body), document.page_count, dict(non_content), dict(set_aside))

    def line(self) -> str:
        parts = [f"{self.paragraphs} paragraphs"]
        if self.pages:
            parts.append(f"{self.pages} pages")
        if self.non_content:
            parts.append("not content: " + ", ".join(f"{n} {kind}" for kind, n in sorted(self.non_content.items())))
        if self.set_aside:
            top = sorted(self.set_aside.items(), key=lambda kv: -kv[1])
            shown = ", ".join(f"{n} {reason}" for reason, n in top[:4])
            more = f" and {len(top) - 4} more reasons" if len(top) > 4 else ""
            parts.append(f"set aside: {shown}{more} (`assistant sources show {self.document_id} --dropped`)")
        return f"  {self.document_id}: " + "; ".join(parts)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    paragraphs_embedded: int = 0
    sentences_embedded: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # e.g. review answers whose sources changed
    documents: list[DocumentSummary] = field(default_factory=list)  # one per document added or changed

    @property
    def ingested_anything(self) -> bool:
        return bool(self.added or self.changed or self.unchanged or self.removed)

    def summary(self) -> str:
        lines = [
            f"added {len(self.added)}, changed {len(self.changed)}, removed {len(self.removed)}, "
            f"unchanged {len(self.unchanged)}, skipped {len(self.skipped)} "
            f"({self.paragraphs_embedded} paragraphs embedded in {self.seconds:.1f} s)"
        ]
        lines.extend(summary.line() for summary in self.documents)
        for skipped in self.skipped:
            lines.append(f"  skipped {skipped.path}: {skipped.reason}")
        lines.extend(self.notes)
        return "\n".join(lines)


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or "document"


def relative_names(files: list[Path], roots: list[Path]) -> dict[Path, str]:
    """Each file's path relative to the folder ingested (to the folders' common parent when several
    are given; a file given on its own is named by its file name): the same on every machine."""
    folders = [os.path.abspath(r if r.is_dir() else r.parent) for r in roots]
    base = os.path.commonpath(folders) if folders else os.path.abspath(".")
    return {f: Path(os.path.relpath(os.path.abspath(f), base)).as_posix() for f in files}


def assign_ids(files: list[Path], roots: list[Path], known: dict[str, Document]) -> dict[Path, str]:
    """A document id for each file: the slug of its name. A file ingested before keeps its id (ids are
    stable across re-ingests); when slugs collide, the file first in order of relative path keeps the
    plain slug and the others get a suffix hashed from their relative path. Neither where the folder
    sits nor the order files are listed in changes an id."""
    names = relative_names(files, roots)
    ids_by_path = {d.path: d.id for d in known.values()}
    assigned: dict[Path, str] = {}
    for path in files:
        if (previous := ids_by_path.get(str(path.resolve()))) is not None:
            assigned[path] = previous
    taken = set(assigned.values())
    for path in sorted((f for f in files if f not in assigned), key=lambda f: (slugify(f.stem), names[f])):
        document_id = slugify(path.stem)
        owner = known.get(document_id)
        if document_id in taken or (owner is not None and Path(owner.path).exists()):
            document_id = _suffixed(document_id, names[path], taken)
        taken.add(document_id)
        assigned[path] = document_id
    return assigned


def _suffixed(slug: str, name: str, taken: set[str]) -> str:
    digest = hashlib.sha1(name.encode()).hexdigest()
    for size in range(6, len(digest) + 1):
        if (candidate := f"{slug}-{digest[:size]}") not in taken:
            return candidate
    raise IngestError(f"cannot give {name} a document id of its own")


def discover(paths: list[Path]) -> tuple[list[Path], list[Skipped]]:
    """Files under `paths` (recursively), sorted; unsupported files reported as skipped."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    for root in paths:
        if not root.exists():
            raise IngestError(f"{root} does not exist")
        candidates = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in candidates:
            if path.name.lower() in IGNORED_NAMES or any(part.startswith(".") for part in path.relative_to(root.parent if root.is_file() else root).parts):
                continue
            if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
                skipped.append(Skipped(str(path), f"unsupported file type {path.suffix or '(none)'}"))
                continue
            files.append(path)
    return files, skipped


def _folder_metadata(folder: Path, cache: dict) -> dict:
    if folder not in cache:
        meta_file = folder / METADATA_FILE
        try:
            cache[folder] = tomllib.loads(meta_file.read_text(encoding="utf-8")) if meta_file.exists() else {}
        except (tomllib.TOMLDecodeError, OSError) as exc:
            raise IngestError(f"{meta_file} is not valid TOML: {exc}") from exc
    return cache[folder]


def parse_document(path: Path, document_id: str, collection: str, metadata: dict, max_bytes: int) -> Document:
    """Load, clean and segment one file. Raises UnreadableDocument with the reason."""
    size = path.stat().st_size
    if size == 0:
        raise UnreadableDocument("empty file")
    if size > max_bytes:
        raise UnreadableDocument(f"file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit")
    raw = path.read_bytes()
    with warnings.catch_warnings():
        # third-party libraries warn about malformed files they read anyway: not the user's business
        warnings.simplefilter("ignore")
        loaded = load(path)
    # A converter's damage, repaired only in a document that shows it: "skil s" -> "skills", "Zork" -> "work".
    loaded = repair_wrong_glyphs(repair_split_ligatures(loaded))
    cleaned = clean(loaded.blocks)
    if not cleaned.paragraphs:
        raise UnreadableDocument("no text found after cleaning")
    url = metadata.get("url") or ""
    if not url and cleaned.citation:
        if m := re.search(r"https?://\S+", cleaned.citation):
            url = m.group(0).rstrip(".,)")
    found = document_metadata(loaded, cleaned)
    document = Document(
        id=document_id,
        path=str(path.resolve()),
        # a metadata sidecar (sources/metadata.toml) wins over what the document states
        title=metadata.get("title") or found.get("title") or path.stem,
        publisher=metadata.get("publisher") or found.get("publisher", ""),
        author=metadata.get("author") or found.get("author", ""),
        date=metadata.get("date") or found.get("date", ""),
        reference=metadata.get("reference") or found.get("reference", ""),
        url=url,
        collection=collection,
        dropped=list(loaded.dropped) + list(cleaned.dropped),
        page_count=loaded.page_count,
    )
    for number, para in enumerate(cleaned.paragraphs, start=1):
        document.paragraphs.append(
            Paragraph(
                document_id=document_id,
                number=number,
                text=para.text,
                section=para.section,
                kind=para.kind,
                sentences=split_sentences(para.text),
                comment=para.comment,
                collection=collection,
                page_starts=para.page_starts,
            )
        )
    header = header_paragraph(document, title_stated=bool(found.get("title")), signed=foreword_signoff(cleaned.paragraphs))
    if header is not None:
        document.paragraphs.insert(0, header)
    document.content_hash = content_hash(raw, metadata, collection, path.suffix)
    return document


def document_metadata(loaded: LoadedDocument, cleaned: CleanDocument) -> dict[str, str]:
    """What the document itself states about itself: the loader's reading of the file's own metadata
    (PDF document info, HTML <meta>, DOCX properties, Markdown front matter) first, then statements in
    its text ("Published 21 February 2023", "© Crown copyright", imprints), then the cleaner's title."""
    found: dict[str, str] = {}
    # The cleaner's title is the first heading; a generic one ("GOV.UK", "Contents", a date) names nothing, so
    # the title set over the cover's short lines is taken, else the first heading that is not generic. Plain text marks no headings: its first line is a title
    # only when the cleaner judged it one (else the file name stands).
    title = cleaned.title
    # The first heading may also be the first line of an organisation's name set over the cover's lines.
    named_nothing = not title or generic_title(title) or starts_cover_organisation(loaded.blocks, title)
    if named_nothing and any(b.kind == "heading" for b in loaded.blocks):
        title = cover_title(loaded.blocks) or title_from_blocks(loaded.blocks)
    elif title and generic_title(title):
        title = ""
    if title:
        found["title"] = title
    if cleaned.date:
        found["date"] = cleaned.date
    for key, value in stated_metadata(loaded.blocks, [d.text for d in loaded.dropped]).items():
        if value:
            found[key] = value
    return merged_metadata(found, loaded.metadata, loaded.blocks)


def content_hash(raw: bytes, metadata: dict, collection: str, suffix: str = "") -> str:
    """What decides whether a document must be re-ingested: its bytes, its metadata entry, the
    collection, the cleaner's rules, the header's wording and its format's loader. Computed before parsing, so unchanged
    files cost one read."""
    hasher = hashlib.sha256(raw)
    rules = {"meta": metadata, "cleaner": CLEANER_VERSION, "vectors": VECTOR_RULE_VERSION, "collection": collection,
             "header": HEADER_VERSION}
    loader = LOADER_VERSIONS.get(suffix.lower())
    if loader:  # only formats whose loader changed carry a version, so other files stay unchanged
        rules["loader"] = loader
    hasher.update(json.dumps(rules, sort_keys=True).encode())
    return hasher.hexdigest()


def embed_documents(documents: list[Document], embedder, batch_size: int) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """One encode call for the sentences of several documents. A paragraph's vector is the
    normalised mean of its sentence vectors, so each text is encoded once (ingest runs at the
    model's raw speed) and the answerer gets sentence vectors for free."""
    texts: list[str] = []
    for doc in documents:
        for p in doc.paragraphs:
            sentences = p.sentence_texts() or [p.text]
            texts.extend(sentences)
    # Each distinct text is encoded once: generated documentation repeats many sentences verbatim
    # ("For example:", "New in version 3.2."), a third of all sentences in the Python docs.
    unique: dict[str, int] = {}
    positions = [unique.setdefault(t, len(unique)) for t in texts]
    vectors = embedder.encode(list(unique), batch_size=batch_size)[positions]
    out = []
    i = 0
    for doc in documents:
        para_vectors = []
        sent_vectors = []
        for p in doc.paragraphs:
            n = max(1, len(p.sentences))
            block = vectors[i : i + n]
            i += n
            para_vectors.append(paragraph_vector(block, _list_items(p, block)))
            sent_vectors.append(block)
        out.append((np.array(para_vectors, dtype=np.float32), sent_vectors))
    return out


def _list_items(paragraph: Paragraph, sentence_vectors: np.ndarray) -> np.ndarray | None:
    """Which sentences of a list are its items (for `paragraph_vector`); None for other paragraphs."""
    if paragraph.kind == "list" and len(paragraph.sentences) == len(sentence_vectors):
        return np.array([paragraph.text[s.start : s.end].startswith("•") for s in paragraph.sentences])
    return None


class _Lock:
    """One ingest at a time per data folder."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "w")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            self.handle.close()
            raise IngestError(f"another ingest is running on {self.path.parent}/") from exc
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def refresh_reviews(config: Config, index) -> list[str]:
    """Mark consultation-review answers whose cited paragraphs changed as stale (assistant/review).
    Does nothing when there is no review database (never creates one). Returns lines for the report;
    a failure is reported there, not raised: the ingest itself has succeeded."""
    from assistant.review.service import ReviewService

    try:
        service = ReviewService.open_existing(config)
        if service is None:
            return []
        try:
            if index.uses_server:  # an ingest job holds only what it wrote: mirror the rest first
                index.sync()
            changed = service.refresh_staleness(index)
        finally:
            service.close()
    except Exception as exc:  # noqa: BLE001 - reported to the user, the index is already written
        return [f"could not check the review database for answers whose sources changed: {exc}"]
    stale = sum(item.stale for item in changed)
    lines = []
    if stale:
        lines.append(f"{stale} reviewed answer(s) cite paragraphs that changed: see `assistant review stale`")
    if len(changed) - stale:
        lines.append(f"{len(changed) - stale} reviewed answer(s) cite their sources' current text again")
    return lines


def run_ingest(
    paths: list[Path],
    config: Config,
    collection: str = DEFAULT_COLLECTION,
    progress: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Ingest `paths` into the index of `config.data_dir`, incrementally."""
    import time

    from assistant.embedding import get_embedder
    from assistant.index import Index

    started = time.perf_counter()
    report = IngestReport()
    embedder = get_embedder(config.embed_model_path)
    with _Lock(Path(config.data_dir) / "ingest.lock"):
        index = Index.open(config, embedder.name, create=True)
        files, report.skipped = discover(paths)

        known = {d.id: d for d in index.published_documents()}
        ids = assign_ids(files, paths, known)
        metadata_cache: dict = {}
        pending: list[tuple[Document, bool]] = []  # (document, is_new)
        seen_ids: set[str] = set()
        for path in files:
            document_id = ids[path]
            try:
                metadata = _folder_metadata(path.parent, metadata_cache).get(path.name, {})
                previous = known.get(document_id)
                if previous is not None and path.stat().st_size <= config.max_file_bytes:
                    if previous.content_hash == content_hash(path.read_bytes(), metadata, collection, path.suffix):
                        seen_ids.add(document_id)
                        report.unchanged.append(document_id)
                        continue
                document = parse_document(path, document_id, collection, metadata, config.max_file_bytes)
            except UnreadableDocument as exc:
                report.skipped.append(Skipped(str(path), str(exc)))
                continue
            except (OSError, IngestError) as exc:
                report.skipped.append(Skipped(str(path), f"cannot read: {exc}"))
                continue
            except Exception as exc:  # noqa: BLE001 - a loader bug on one file must not abort the run
                report.skipped.append(Skipped(str(path), f"failed to parse ({exc.__class__.__name__}: {exc})"))
                continue
            seen_ids.add(document_id)
            pending.append((document, previous is None))
            report.documents.append(DocumentSummary.of(document))

        # Removed: documents of this collection that lived under the given paths and are gone.
        roots = [str(p.resolve()) for p in paths]
        for doc in known.values():
            if doc.id in seen_ids or doc.collection != collection:
                continue
            under_root = any(doc.path == r or doc.path.startswith(r.rstrip("/") + "/") for r in roots)
            if under_root and not Path(doc.path).exists():
                index.delete_document(doc.id)
                report.removed.append(doc.id)

        total_sentences = sum(max(1, len(p.sentences)) for d, _ in pending for p in d.paragraphs)
        bar = None
        if progress and pending:
            from tqdm import tqdm

            bar = tqdm(total=total_sentences, unit="sent", desc="embedding", dynamic_ncols=True)
        done = 0
        group: list[tuple[Document, bool]] = []
        group_size = 0

        def flush() -> None:
            nonlocal done, group, group_size
            if not group:
                return
            docs = [d for d, _ in group]
            vectors = embed_documents(docs, embedder, config.embed_batch_size)
            if not index.meta("embed_dim"):
                index.check_dimension(vectors[0][0].shape[1])
            index.write_documents([(document, para_vectors, sent_vectors) for document, (para_vectors, sent_vectors) in zip(docs, vectors)])
            for document, is_new in group:
                (report.added if is_new else report.changed).append(document.id)
                report.paragraphs_embedded += len(document.paragraphs)
            report.sentences_embedded += group_size
            done += group_size
            if bar is not None:
                bar.update(group_size)
            if on_progress is not None:
                on_progress(done, total_sentences)
            group, group_size = [], 0

        for document, is_new in pending:
            group.append((document, is_new))
            group_size += sum(max(1, len(p.sentences)) for p in document.paragraphs)
            if group_size >= config.ingest_group_sentences:
                flush()
        flush()
        if bar is not None:
            bar.close()

        # In server mode every replica builds its own BM25 from its mirror: the ingest job keeps none.
        if not index.uses_server and (report.added or report.changed or report.removed or index.lexical_is_stale):
            index.rebuild_lexical()
        if report.changed or report.removed:
            report.notes.extend(refresh_reviews(config, index))
    report.seconds = time.perf_counter() - started
    return report
