"""The Chroma-server side of the index (server mode, `ASSISTANT_CHROMA_HOST` set). Owned by
assistant/index.py: nothing else imports it.

In server mode ALL shared index state lives in the Chroma server, in three collections named from
`ASSISTANT_CHROMA_COLLECTION` (default `assistant-paragraphs`):

    <name>             paragraph vectors, text (the Chroma document) and metadata: document_id,
                       paragraph_id, number, collection, section, kind, comment (JSON or ""),
                       sentences (JSON spans), pages (JSON page starts, PDF) and content_hash (the document version it belongs to)
    <name>-sentences   sentence vectors, ids `<paragraph-id>#s<k>`, metadata paragraph_id, k, start,
                       end, document_id, collection, content_hash
    <name>-records     one record per document (`doc:<document-id>`: its metadata, content hash,
                       paragraph and sentence counts; its dropped lines as JSON in the Chroma
                       document) and the manifest (`manifest`: embedding model name and dimension,
                       schema, corpus version). Their embeddings are a dummy [1.0].

Write protocol (one ingest job at a time):
  * a document: delete its old paragraphs and sentences, add the new ones, then write its record
    LAST, then bump the corpus version. A document whose record is missing, or whose paragraphs and
    sentences do not all carry the record's content hash (a writer killed part-way), is never taken
    by a reader; a reader keeps the complete version it already has.
  * a removal: delete the record first, then the paragraphs and sentences, then bump the version.
The corpus version is a fresh token (time + random), not a counter, so bumping it needs no
read-modify-write.

Readers (every app process) mirror the records and the complete documents into a local cache (the
same SQLite catalog schema as embedded mode, in a per-process temporary folder) and rebuild BM25 in
memory from it: chromadb's own sparse BM25 index and its `Search()` API are not available on a
local `chroma run` (docs/deploy.md has the measurement). `ServerStore.changes()` tells a reader
what to fetch, delete or keep; assistant/index.py applies it to the cache.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import numpy as np

from assistant.records import CommentByline, Document, DroppedLine, Paragraph, Span

SENTENCES_SUFFIX = "-sentences"
RECORDS_SUFFIX = "-records"
MANIFEST_ID = "manifest"
RECORD_PREFIX = "doc:"
DUMMY_VECTOR = [1.0]
PAGE = 1000  # rows per Chroma get/add call (well under the server's max batch size)
FETCH_DOCUMENTS = 50  # documents fetched per Chroma get when a reader syncs


@dataclass(frozen=True)
class Manifest:
    """The index-wide facts: which embedding model made the vectors, and the corpus version."""

    embed_model: str
    embed_dim: int | None
    schema: str
    corpus_version: str


@dataclass(frozen=True)
class DocumentRecord:
    """A document as published: its metadata and how many paragraphs and sentences it has. A reader
    takes the document only when exactly that many rows carry `document.content_hash`."""

    document: Document
    sentence_count: int


@dataclass
class FetchedDocument:
    """A complete document read back from the server: paragraphs and one vector block each."""

    document: Document
    sentence_vectors: list[np.ndarray]


def new_version() -> str:
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"


class ServerStore:
    """The three collections of one index on a Chroma server. Thread-safe as chromadb's client is."""

    def __init__(self, client, name: str):
        self.client = client
        self.name = name
        # Our own vectors only: Chroma is never asked to embed anything (its default model would download).
        self.paragraphs = client.get_or_create_collection(name, metadata={"hnsw:space": "cosine"}, embedding_function=None)
        self.sentences = client.get_or_create_collection(
            name + SENTENCES_SUFFIX, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        self.records = client.get_or_create_collection(name + RECORDS_SUFFIX, embedding_function=None)

    @classmethod
    def connect(cls, host: str, port: int, name: str) -> "ServerStore":
        import chromadb
        from chromadb.config import Settings

        client = chromadb.HttpClient(host=host, port=port, settings=Settings(anonymized_telemetry=False))
        return cls(client, name)

    # --- the manifest and the corpus version ----------------------------------------------------

    def manifest(self) -> Manifest | None:
        got = self.records.get(ids=[MANIFEST_ID], include=["metadatas"])
        if not got["ids"]:
            return None
        meta = got["metadatas"][0] or {}
        dim = meta.get("embed_dim")
        return Manifest(str(meta.get("embed_model", "")), int(dim) if dim else None, str(meta.get("schema", "")),
                        str(meta.get("corpus_version", "")))

    def corpus_version(self) -> str | None:
        """The cheap check readers poll: one get of one record."""
        manifest = self.manifest()
        return manifest.corpus_version if manifest else None

    def update_manifest(self, **fields) -> None:
        got = self.records.get(ids=[MANIFEST_ID], include=["metadatas"])
        meta = dict(got["metadatas"][0] or {}) if got["ids"] else {"kind": "manifest", "corpus_version": new_version()}
        meta.update({k: v for k, v in fields.items() if v is not None})
        self.records.upsert(ids=[MANIFEST_ID], embeddings=[DUMMY_VECTOR], metadatas=[meta], documents=["manifest"])

    def bump_version(self) -> None:
        self.update_manifest(corpus_version=new_version())

    # --- writes (the ingest job) -----------------------------------------------------------------

    def delete_rows(self, document_ids: list[str]) -> None:
        """Drop these documents' paragraphs and sentences (not their records)."""
        if document_ids:
            where = {"document_id": {"$in": list(document_ids)}}
            self.paragraphs.delete(where=where)
            self.sentences.delete(where=where)

    def add_sentences(self, document: Document, sentence_vectors: list[np.ndarray]) -> int:
        ids, embeddings, metadatas = [], [], []
        for paragraph, vectors in zip(document.paragraphs, sentence_vectors):
            for k, vector in enumerate(np.asarray(vectors, dtype=np.float32)):
                span = paragraph.sentences[k] if k < len(paragraph.sentences) else Span(0, len(paragraph.text))
                ids.append(f"{paragraph.id}#s{k}")
                embeddings.append(vector.tolist())
                metadatas.append({
                    "paragraph_id": paragraph.id, "k": k, "start": span.start, "end": span.end,
                    "document_id": document.id, "collection": document.collection,
                    "content_hash": document.content_hash,
                })
        for i in range(0, len(ids), PAGE):
            self.sentences.upsert(ids=ids[i : i + PAGE], embeddings=embeddings[i : i + PAGE], metadatas=metadatas[i : i + PAGE])
        return len(ids)

    def write_record(self, document: Document, sentence_count: int) -> None:
        """Publish a document: written after all its paragraphs and sentences."""
        meta = {
            "kind": "document", "document_id": document.id, "path": document.path, "collection": document.collection,
            "content_hash": document.content_hash, "title": document.title or "", "publisher": document.publisher or "",
            "author": document.author or "", "date": document.date or "", "url": document.url or "",
            "reference": document.reference or "",
            "paragraph_count": len(document.paragraphs), "sentence_count": sentence_count, "ingested_at": time.time(),
        }
        dropped = json.dumps([[d.text, d.reason] for d in document.dropped], ensure_ascii=False)
        self.records.upsert(ids=[RECORD_PREFIX + document.id], embeddings=[DUMMY_VECTOR], metadatas=[meta], documents=[dropped])

    def delete_document(self, document_id: str) -> None:
        """Unpublish first (the record), then drop the rows; the caller bumps the version."""
        self.records.delete(ids=[RECORD_PREFIX + document_id])
        self.delete_rows([document_id])

    # --- reads (every reader) ----------------------------------------------------------------------

    def document_records(self) -> dict[str, DocumentRecord]:
        out: dict[str, DocumentRecord] = {}
        offset = 0
        while True:
            got = self.records.get(where={"kind": "document"}, include=["metadatas", "documents"], limit=PAGE, offset=offset)
            for meta, dropped in zip(got["metadatas"], got["documents"]):
                document = Document(
                    id=meta["document_id"], path=meta["path"], title=meta["title"] or meta["document_id"],
                    publisher=meta["publisher"], author=meta["author"], date=meta["date"], url=meta["url"],
                    reference=meta.get("reference") or "",
                    collection=meta["collection"], content_hash=meta["content_hash"],
                    paragraph_count=int(meta["paragraph_count"]),
                    dropped=[DroppedLine(t, r) for t, r in json.loads(dropped or "[]")],
                )
                out[document.id] = DocumentRecord(document, int(meta["sentence_count"]))
            if len(got["ids"]) < PAGE:
                return out
            offset += PAGE

    def fetch(self, records: list[DocumentRecord]) -> dict[str, FetchedDocument]:
        """The complete documents among `records`: those whose every paragraph and sentence carries
        the record's content hash. An incomplete one (a write in flight or killed) is left out."""
        out: dict[str, FetchedDocument] = {}
        for i in range(0, len(records), FETCH_DOCUMENTS):
            chunk = {r.document.id: r for r in records[i : i + FETCH_DOCUMENTS]}
            where = {"document_id": {"$in": list(chunk)}}
            paragraphs = self._get_all(self.paragraphs, where, ["documents", "metadatas"])
            sentences = self._get_all(self.sentences, where, ["embeddings", "metadatas"])
            by_document: dict[str, list[Paragraph]] = {}
            for text, meta in zip(paragraphs["documents"], paragraphs["metadatas"]):
                record = chunk.get(meta.get("document_id"))
                if record is None or meta.get("content_hash") != record.document.content_hash:
                    continue
                by_document.setdefault(record.document.id, []).append(Paragraph(
                    document_id=record.document.id, number=int(meta["number"]), text=text or "",
                    section=meta.get("section") or "", kind=meta.get("kind") or "paragraph",
                    sentences=[Span(a, b) for a, b in json.loads(meta.get("sentences") or "[]")],
                    comment=CommentByline(**json.loads(meta["comment"])) if meta.get("comment") else None,
                    collection=record.document.collection,
                    page_starts=[(a, b) for a, b in json.loads(meta.get("pages") or "[]")],
                ))
            vectors: dict[str, dict[int, np.ndarray]] = {}
            counts: dict[str, int] = {}
            for vector, meta in zip(sentences["embeddings"], sentences["metadatas"]):
                record = chunk.get(meta.get("document_id"))
                if record is None or meta.get("content_hash") != record.document.content_hash:
                    continue
                vectors.setdefault(meta["paragraph_id"], {})[int(meta["k"])] = np.asarray(vector, dtype=np.float32)
                counts[record.document.id] = counts.get(record.document.id, 0) + 1
            for document_id, record in chunk.items():
                found = sorted(by_document.get(document_id, []), key=lambda p: p.number)
                if len(found) != record.document.paragraph_count or counts.get(document_id, 0) != record.sentence_count:
                    continue  # not complete on the server: keep what the reader has
                blocks = []
                for paragraph in found:
                    rows = vectors.get(paragraph.id, {})
                    blocks.append(np.stack([rows[k] for k in sorted(rows)]) if rows else np.zeros((0, 0), np.float32))
                if any(len(b) == 0 for b in blocks):
                    continue
                d = record.document
                document = Document(id=d.id, path=d.path, title=d.title, publisher=d.publisher, author=d.author,
                                    reference=d.reference,
                                    date=d.date, url=d.url, collection=d.collection, content_hash=d.content_hash,
                                    paragraphs=found, paragraph_count=len(found), dropped=list(d.dropped))
                out[document_id] = FetchedDocument(document, blocks)
        return out

    @staticmethod
    def _get_all(collection, where: dict, include: list[str]) -> dict:
        merged: dict[str, list] = {key: [] for key in ["ids", *include]}
        offset = 0
        while True:
            got = collection.get(where=where, include=include, limit=PAGE, offset=offset)
            for key in merged:
                values = got[key]
                merged[key].extend(list(values) if values is not None else [])
            if len(got["ids"]) < PAGE:
                return merged
            offset += PAGE
