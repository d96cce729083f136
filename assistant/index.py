"""The index: the one module that knows the storage layout. Ingest writes through it; the
assistant reads through it.

Layout of the data folder (`--data-dir`, `ASSISTANT_DATA_DIR`, default `.assistant/`):

    catalog.sqlite3   the manifest: documents (content hash, metadata), paragraphs (text, sentence
                      spans, sentence vectors), the lines the cleaner dropped from each document
                      (with their reasons), and the embedding model's name and dimension
    chroma/           the embedded Chroma store of paragraph vectors (unless a Chroma server is set)
    lexical/          the BM25 index (bm25s) over title + section + speaker (the document's author,
                      or a comment's author) + paragraph text

Write order makes an interrupted ingest safe: a document's vectors go to Chroma first, then its
catalog rows are committed in one SQLite transaction. The catalog commit is what marks a document
done, so a kill before it means the next run redoes that document (Chroma writes are idempotent
by paragraph id), and a kill after it loses nothing. The BM25 index is rebuilt after the
documents; if it is stale (a kill came first), readers rebuild it in memory from the catalog.

Server mode (`ASSISTANT_CHROMA_HOST` set): ALL shared state lives in the Chroma server (paragraphs,
sentences, document records, the manifest and a corpus version; assistant/index_server.py, which
only this module uses, has the layout and the write protocol). Nothing another machine writes is
read from the data folder: each process mirrors the server's complete documents into a cache (the
same catalog schema, in a per-process temporary folder, rebuilt from the server at any time), and
builds BM25 in memory from it. A background thread checks the corpus version every
`ASSISTANT_CORPUS_POLL_S` seconds and brings the cache up to date, so replicas see an ingest
without a restart. Dense hits whose paragraph is not in the cache, or belongs to another version
of its document than the cached one, are ignored.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.config import Config
from assistant.errors import IndexModelMismatch, IndexNotReady
from assistant.records import NON_CONTENT_KINDS, CommentByline, Document, DroppedLine, Paragraph, Span

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
CATALOG_FILE = "catalog.sqlite3"
CHROMA_DIR = "chroma"
LEXICAL_DIR = "lexical"
# 2: each paragraph is indexed with its speaker; 3: non-content paragraphs left out. An index of another format is rebuilt.
LEXICAL_FORMAT = "3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY, path TEXT NOT NULL, collection TEXT NOT NULL, content_hash TEXT NOT NULL,
    title TEXT, publisher TEXT, author TEXT, date TEXT, url TEXT,
    paragraph_count INTEGER NOT NULL, ingested_at REAL NOT NULL, reference TEXT
);
CREATE TABLE IF NOT EXISTS paragraphs (
    id TEXT PRIMARY KEY, document_id TEXT NOT NULL, number INTEGER NOT NULL, collection TEXT NOT NULL,
    section TEXT, kind TEXT, text TEXT NOT NULL, sentences TEXT NOT NULL, comment TEXT,
    sentence_vectors BLOB NOT NULL, pages TEXT
);
CREATE INDEX IF NOT EXISTS paragraphs_by_document ON paragraphs (document_id, number);
CREATE TABLE IF NOT EXISTS dropped_lines (document_id TEXT PRIMARY KEY, lines TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Hit:
    """A paragraph found by one retriever, with that retriever's score."""

    paragraph_id: str
    score: float


class _Lexical:
    """BM25 over the catalog's paragraphs, with the id of each row."""

    def __init__(self, bm25, ids: list[str], collections: np.ndarray, documents: list[str], generation: int):
        self.bm25 = bm25
        self.ids = ids
        self.collections = collections
        self.documents = np.array(documents, dtype=object)
        self.generation = generation


class Index:
    """Open with `Index.open(config)`. Safe to share between threads."""

    def __init__(self, config: Config, embed_model_name: str, cache_dir: Path | None = None):
        self.config = config
        self.data_dir = Path(config.data_dir)
        # Where the catalog and the BM25 files live: the data folder, or in server mode a cache of the server.
        self.cache_dir = Path(cache_dir) if cache_dir is not None else self.data_dir
        self._server = None  # assistant.index_server.ServerStore in server mode
        self._synced_version: str | None = None
        self._sync_lock = threading.Lock()
        self._poller: threading.Thread | None = None
        self._closed = threading.Event()
        self.embed_model_name = embed_model_name
        self._local = threading.local()
        self._lexical: _Lexical | None = None
        self._lexical_lock = threading.Lock()
        self._vector_store = None
        self._chroma_collection = None
        self._chroma_lock = threading.Lock()

    # --- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, config: Config, embed_model_name: str, create: bool = False) -> "Index":
        """Open the index in `config.data_dir` (or on the Chroma server when one is set). With
        create=False a missing index is IndexNotReady; an index built with another embedding model is
        IndexModelMismatch."""
        if config.uses_chroma_server:
            return cls._open_server(config, embed_model_name, create)
        data_dir = Path(config.data_dir)
        catalog = data_dir / CATALOG_FILE
        if not catalog.exists():
            if not create:
                raise IndexNotReady(
                    f"no index in {data_dir}/ yet: run `assistant ingest sources/` (or set --data-dir / ASSISTANT_DATA_DIR)"
                )
            data_dir.mkdir(parents=True, exist_ok=True)
        index = cls(config, embed_model_name)
        db = index._db()
        db.executescript(_SCHEMA)
        _add_missing_columns(db)
        stored_model = index.meta("embed_model")
        if stored_model is None:
            if create:
                index.set_meta("embed_model", embed_model_name)
                index.set_meta("schema", SCHEMA_VERSION)
                index.set_meta("generation", "0")
        elif stored_model != embed_model_name:
            raise IndexModelMismatch(
                f"the index in {data_dir}/ was built with the embedding model {stored_model!r}, "
                f"not {embed_model_name!r}: re-ingest (delete {data_dir}/ and run `assistant ingest`)"
            )
        return index

    @classmethod
    def _open_server(cls, config: Config, embed_model_name: str, create: bool) -> "Index":
        from assistant.index_server import ServerStore

        where = f"{config.chroma_host}:{config.chroma_port}"
        try:
            store = ServerStore.connect(config.chroma_host, config.chroma_port, config.chroma_collection)
            manifest = store.manifest()
        except Exception as exc:  # noqa: BLE001 - chromadb raises several kinds for an unreachable server
            raise IndexNotReady(f"cannot reach the Chroma server at {where}: {exc}") from exc
        if manifest is None:
            if not create:
                raise IndexNotReady(f"the Chroma server at {where} holds no index yet: run `assistant ingest` against it")
            store.update_manifest(kind="manifest", embed_model=embed_model_name, schema=SCHEMA_VERSION)
            manifest = store.manifest()
        elif manifest.embed_model != embed_model_name:
            raise IndexModelMismatch(
                f"the index on the Chroma server at {where} was built with the embedding model {manifest.embed_model!r}, "
                f"not {embed_model_name!r}: re-ingest into another ASSISTANT_CHROMA_COLLECTION"
            )
        cache_dir = Path(tempfile.mkdtemp(prefix="assistant-cache-"))
        atexit.register(shutil.rmtree, cache_dir, True)
        index = cls(config, embed_model_name, cache_dir)
        index._server = store
        db = index._db()
        db.executescript(_SCHEMA)
        index.set_meta("embed_model", embed_model_name)
        index.set_meta("schema", SCHEMA_VERSION)
        index.set_meta("generation", "0")
        if manifest.embed_dim:
            index.set_meta("embed_dim", str(manifest.embed_dim))
        if create:
            # A writer (ingest) compares content hashes with the server's records and writes; it reads
            # no paragraphs, so it does not mirror the corpus (10 s at 12,500 paragraphs) unless a
            # step needs them (`sync()`, as refresh_reviews does).
            store.update_manifest(reader_version=_reader_version(config))
            # A writer announces itself: a document published by a run killed just before its version
            # bump reaches the readers now rather than at this run's first document.
            store.bump_version()
        else:  # a reader: mirror the server's corpus, then follow its version
            index.sync()
            index._poller = threading.Thread(target=index._poll, name="index-poller", daemon=True)
            index._poller.start()
        return index

    # --- server mode: the local cache of the server's catalog -------------------------------------

    @property
    def uses_server(self) -> bool:
        return self._server is not None

    @property
    def corpus_version(self) -> str | None:
        """The server's corpus version this process's cache holds completely (server mode)."""
        return self._synced_version

    def _poll(self) -> None:
        interval = max(0.05, float(self.config.corpus_poll_s))
        while not self._closed.wait(interval):
            try:
                if self._server.corpus_version() != self._synced_version:
                    self.sync()
            except Exception as exc:  # noqa: BLE001 - keep serving from the cache; try again next time
                log.warning("could not refresh the index from the Chroma server: %s", exc)

    def close(self) -> None:
        self._closed.set()

    def sync(self) -> bool:
        """Bring the cache up to date with the server's complete documents. Returns True when the
        cache holds every published document at its published version."""
        with self._sync_lock:
            version = self._server.corpus_version()  # read first: a write after it bumps it again
            records = self._server.document_records()
            cached = {d.id: d.content_hash for d in self.documents()}
            removed = [doc_id for doc_id in cached if doc_id not in records]
            wanted = [r for doc_id, r in records.items() if cached.get(doc_id) != r.document.content_hash]
            fetched = self._server.fetch(wanted) if wanted else {}
            if removed or fetched:
                db = self._db()
                db.execute("BEGIN IMMEDIATE")
                try:
                    for doc_id in removed:
                        _delete_catalog_rows(db, doc_id)
                    for item in fetched.values():
                        _insert_catalog_rows(db, item.document, item.sentence_vectors)
                    db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                self._lexical_index()  # build BM25 here, not on a request
            complete = len(fetched) == len(wanted)
            # An incomplete document (a write in flight) keeps its cached version; look again next poll.
            self._synced_version = version if complete else None
            return complete

    def _db(self) -> sqlite3.Connection:
        # One connection per thread; WAL lets readers go on while an ingest writes.
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.cache_dir / CATALOG_FILE, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def meta(self, key: str) -> str | None:
        row = self._db().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db().execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        return int(self.meta("generation") or 0)

    def check_dimension(self, dimension: int) -> None:
        stored = self.meta("embed_dim")
        if stored is None:
            self.set_meta("embed_dim", str(dimension))
            if self._server is not None:
                self._server.update_manifest(embed_dim=dimension)
        elif int(stored) != dimension:
            raise IndexModelMismatch(
                f"the index holds {stored}-dimensional vectors but the embedding model gives {dimension}: re-ingest"
            )

    # --- Chroma (through llama-index's ChromaVectorStore) ------------------------------------

    def _chroma(self):
        if self._vector_store is None:
            with self._chroma_lock:
                if self._vector_store is None:
                    import chromadb
                    from chromadb.config import Settings
                    from llama_index.vector_stores.chroma import ChromaVectorStore

                    settings = Settings(anonymized_telemetry=False)
                    if self._server is not None:
                        collection = self._server.paragraphs
                    else:
                        client = chromadb.PersistentClient(path=str(self.data_dir / CHROMA_DIR), settings=settings)
                        # We always pass our own vectors: Chroma's default embedding function would try
                        # to download a model, so it is never asked to embed anything.
                        collection = client.get_or_create_collection(
                            self.config.chroma_collection, metadata={"hnsw:space": "cosine"}, embedding_function=None
                        )
                    self._chroma_collection = collection
                    self._vector_store = ChromaVectorStore(chroma_collection=collection)
        return self._vector_store

    def dense_search(
        self, query_vector: np.ndarray, k: int, collections: list[str] | None = None, documents: list[str] | None = None
    ) -> list[Hit]:
        from llama_index.core.vector_stores.types import (
            FilterOperator,
            MetadataFilter,
            MetadataFilters,
            VectorStoreQuery,
        )

        filters = []
        if collections:
            filters.append(MetadataFilter(key="collection", value=list(collections), operator=FilterOperator.IN))
        if documents:
            filters.append(MetadataFilter(key="document_id", value=list(documents), operator=FilterOperator.IN))
        query = VectorStoreQuery(
            query_embedding=query_vector.tolist(),
            similarity_top_k=k,
            filters=MetadataFilters(filters=filters) if filters else None,
        )
        store = self._chroma()
        try:
            result = store.query(query)
        except Exception:
            if self._chroma_collection.count() == 0:
                return []  # nothing ingested yet (or everything filtered away)
            raise
        # ChromaVectorStore reports exp(-distance); with cosine distance that is exp(cos - 1).
        hits = [Hit(pid, float(1.0 + np.log(max(sim, 1e-12)))) for pid, sim in zip(result.ids, result.similarities)]
        if self._server is not None:
            hits = self._cached_hits(hits, result.nodes or [])
        return self._content_hits(hits)

    def _content_hits(self, hits: list[Hit]) -> list[Hit]:
        """The hits on content paragraphs: contents lists, notices, banners and reference lists are kept in
        Chroma (server mode mirrors paragraphs from it) but are never retrieved."""
        ids = [h.paragraph_id for h in hits]
        if not ids:
            return hits
        placeholders = ",".join("?" * len(ids))
        excluded = {row[0] for row in self._db().execute(
            f"SELECT id FROM paragraphs WHERE id IN ({placeholders}) AND kind IN ({','.join('?' * len(NON_CONTENT_KINDS))})",
            [*ids, *NON_CONTENT_KINDS])}
        return [h for h in hits if h.paragraph_id not in excluded]

    def _cached_hits(self, hits: list[Hit], nodes) -> list[Hit]:
        """Server mode: only hits on the cached version of a cached paragraph (an ingest may be
        rewriting a document this process still serves in its previous complete version)."""
        ids = [h.paragraph_id for h in hits]
        if not ids:
            return hits
        rows = self._db().execute(
            f"SELECT p.id, d.content_hash FROM paragraphs p JOIN documents d ON d.id = p.document_id "
            f"WHERE p.id IN ({','.join('?' * len(ids))})", ids
        ).fetchall()
        cached = dict(rows)
        versions = {node.node_id: (node.metadata or {}).get("content_hash") for node in nodes}
        return [h for h in hits if h.paragraph_id in cached and versions.get(h.paragraph_id, cached[h.paragraph_id]) == cached[h.paragraph_id]]

    # --- BM25 -------------------------------------------------------------------------------

    def _lexical_index(self) -> _Lexical:
        generation = self.generation
        current = self._lexical
        if current is not None and current.generation == generation:
            return current
        with self._lexical_lock:
            if self._lexical is None or self._lexical.generation != generation:
                self._lexical = self._load_lexical(generation) or self._build_lexical(generation)
            return self._lexical

    def _load_lexical(self, generation: int) -> _Lexical | None:
        import bm25s

        if self._server is not None:
            return None  # server mode: BM25 lives in memory only, built from the cache
        folder = self.data_dir / LEXICAL_DIR
        try:
            info = json.loads((folder / "rows.json").read_text())
            if info["generation"] != generation or info.get("format") != LEXICAL_FORMAT:
                return None  # stale: an ingest was interrupted before rebuilding it, or an older format
            bm25 = bm25s.BM25.load(str(folder), show_progress=False, verbosity=0) if info["ids"] else None
        except (OSError, ValueError, KeyError):
            return None
        return _Lexical(bm25, info["ids"], np.array(info["collections"], dtype=object), info["documents"], generation)

    def _build_lexical(self, generation: int) -> _Lexical:
        import bm25s

        from assistant.text import content_terms

        rows = self._db().execute(
            "SELECT p.id, p.collection, p.document_id, COALESCE(d.title, ''), COALESCE(p.section, ''), p.text, p.comment, "
            "COALESCE(d.author, '') "
            "FROM paragraphs p LEFT JOIN documents d ON d.id = p.document_id "
            f"WHERE COALESCE(p.kind, '') NOT IN ({','.join('?' * len(NON_CONTENT_KINDS))}) "
            "ORDER BY p.document_id, p.number", NON_CONTENT_KINDS
        ).fetchall()
        ids = [r[0] for r in rows]
        corpus = []
        for _, _, _, title, section, text, comment, author in rows:
            # Who speaks: a reader comment's author, else the document's ("What does Chris Ham say ...?").
            speaker = json.loads(comment)["author"] if comment else author
            corpus.append(content_terms(f"{title}\n{section}\n{speaker}\n{text}") or ["_empty_"])
        bm25 = None
        if corpus:
            # k1=0.9, b=0.4: the Anserini defaults, measured on SciFact in docs/benchmarks.md.
            bm25 = bm25s.BM25(k1=0.9, b=0.4)
            bm25.index(corpus, show_progress=False)
        return _Lexical(bm25, ids, np.array([r[1] for r in rows], dtype=object), [r[2] for r in rows], generation)

    def rebuild_lexical(self) -> None:
        """Rebuild the persisted BM25 index from the catalog (atomically replacing the old one).
        Server mode persists nothing: every process builds its own from its cache."""
        generation = self.generation
        lexical = self._build_lexical(generation)
        if self._server is not None:
            with self._lexical_lock:
                self._lexical = lexical
            return
        folder = self.data_dir / LEXICAL_DIR
        tmp = self.data_dir / f"{LEXICAL_DIR}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if lexical.bm25 is not None:
            lexical.bm25.save(str(tmp), show_progress=False)
        rows = {"generation": generation, "format": LEXICAL_FORMAT, "ids": lexical.ids, "collections": list(lexical.collections),
                "documents": list(lexical.documents)}
        (tmp / "rows.json").write_text(json.dumps(rows))
        old = self.data_dir / f"{LEXICAL_DIR}.old-{os.getpid()}"
        if folder.exists():
            folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
        with self._lexical_lock:
            self._lexical = lexical

    @property
    def lexical_is_stale(self) -> bool:
        if self._server is not None:
            return False  # nothing persisted to go stale
        try:
            info = json.loads((self.data_dir / LEXICAL_DIR / "rows.json").read_text())
            return info["generation"] != self.generation or info.get("format") != LEXICAL_FORMAT
        except (OSError, ValueError, KeyError):
            return True

    def term_postings(self, terms: list[str]) -> tuple[int, dict[str, np.ndarray]]:
        """How many paragraphs the lexical index holds, and for each term the rows of those it occurs in
        (its BM25 posting list; empty for a term that occurs nowhere): what tells a question about the
        corpus from one about something else (assistant/off_corpus.py)."""
        lexical = self._lexical_index()
        if lexical.bm25 is None:
            return 0, {t: np.empty(0, dtype=np.int64) for t in terms}
        indptr, indices = lexical.bm25.scores["indptr"], lexical.bm25.scores["indices"]
        vocab = lexical.bm25.vocab_dict
        postings = {}
        for t in terms:
            i = vocab.get(t)
            postings[t] = np.asarray(indices[indptr[i] : indptr[i + 1]]) if i is not None and i + 1 < len(indptr) else np.empty(0, dtype=np.int64)
        return len(lexical.ids), postings

    def lexical_search(
        self, terms: list[str], k: int, collections: list[str] | None = None, documents: list[str] | None = None
    ) -> list[Hit]:
        lexical = self._lexical_index()
        if lexical.bm25 is None or not terms:
            return []
        scores = lexical.bm25.get_scores(terms)
        if collections:
            scores = np.where(np.isin(lexical.collections, collections), scores, 0.0)
        if documents:
            scores = np.where(np.isin(lexical.documents, documents), scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [Hit(lexical.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    # --- catalog reads ----------------------------------------------------------------------

    def documents(self, collections: list[str] | None = None) -> list[Document]:
        sql = f"SELECT {_DOCUMENT_COLUMNS} FROM documents"
        params: list = []
        if collections:
            sql += f" WHERE collection IN ({','.join('?' * len(collections))})"
            params = list(collections)
        rows = self._db().execute(sql + " ORDER BY id", params).fetchall()
        return [_document(r) for r in rows]

    def published_documents(self) -> list[Document]:
        """Every document the index has a record of, for ingest to compare content hashes with. In
        server mode that is the server's records, including a document whose rewrite was cut short
        (readers keep its previous version; the hash tells ingest to redo it)."""
        if self._server is None:
            return self.documents()
        return sorted((r.document for r in self._server.document_records().values()), key=lambda d: d.id)

    def document(self, document_id: str) -> Document | None:
        row = self._db().execute(
            f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE id=?", (document_id,)
        ).fetchone()
        return _document(row) if row else None

    def paragraphs_of(self, document_id: str) -> list[Paragraph]:
        rows = self._db().execute(
            f"SELECT {_PARAGRAPH_COLUMNS} FROM paragraphs WHERE document_id=? ORDER BY number", (document_id,)
        ).fetchall()
        return [_paragraph(r) for r in rows]

    def paragraphs(self, ids: list[str]) -> dict[str, Paragraph]:
        if not ids:
            return {}
        rows = self._db().execute(
            f"SELECT {_PARAGRAPH_COLUMNS} FROM paragraphs WHERE id IN ({','.join('?' * len(ids))})", list(ids)
        ).fetchall()
        return {r[0]: _paragraph(r) for r in rows}

    def sentence_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        rows = self._db().execute(
            f"SELECT id, sentence_vectors FROM paragraphs WHERE id IN ({','.join('?' * len(ids))})", list(ids)
        ).fetchall()
        dim = int(self.meta("embed_dim") or 384)
        return {pid: np.frombuffer(blob, dtype=np.float32).reshape(-1, dim) for pid, blob in rows}

    def dropped_lines(self, document_id: str) -> list[DroppedLine] | None:
        """The lines the cleaner left out of `document_id`'s paragraphs, with why; None when the
        document was ingested before they were recorded (re-ingest to record them)."""
        row = self._db().execute("SELECT lines FROM dropped_lines WHERE document_id=?", (document_id,)).fetchone()
        return [DroppedLine(text, reason) for text, reason in json.loads(row[0])] if row else None

    def paragraph_count(self) -> int:
        return self._db().execute("SELECT COUNT(*) FROM paragraphs").fetchone()[0]

    # --- writes (used by ingest) -------------------------------------------------------------

    def write_documents(self, batch: list[tuple[Document, np.ndarray, list[np.ndarray]]]) -> None:
        """Replace these documents' paragraphs everywhere, Chroma first, catalog commits last: one
        Chroma write for all of them (a write per document cost more than encoding small pages),
        then one catalog commit per document. A document counts as ingested only once its catalog row is committed, so a run
        killed in between redoes it and nothing else. In server mode the commit is the document's
        record on the server, written after its paragraphs and sentences, then the corpus version."""
        self._write_vectors(batch)
        if self._server is not None:
            self._publish(batch)
        for document, _, sentence_vectors in batch:
            self._commit_catalog(document, sentence_vectors)

    def _write_vectors(self, batch: list[tuple[Document, np.ndarray, list[np.ndarray]]]) -> None:
        """The paragraph vectors (and in server mode the sentences) of a batch, not yet published."""
        from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

        store = self._chroma()
        ids = [document.id for document, _, _ in batch]
        # One delete for the whole batch (the same filter as llama-index's delete(ref_doc_id), for many ids).
        if self._server is not None:
            self._server.delete_rows(ids)
        else:
            self._chroma_collection.delete(where={"document_id": {"$in": ids}})
        nodes = []
        for document, paragraph_vectors, _ in batch:
            for paragraph, vector in zip(document.paragraphs, paragraph_vectors):
                metadata = {"paragraph_id": paragraph.id, "collection": document.collection, "number": paragraph.number}
                if self._server is not None:  # everything a reader needs to rebuild the paragraph
                    metadata.update({
                        "section": paragraph.section or "", "kind": paragraph.kind or "paragraph",
                        "comment": json.dumps(paragraph.comment.__dict__) if paragraph.comment else "",
                        "sentences": json.dumps([[s.start, s.end] for s in paragraph.sentences]),
                        "content_hash": document.content_hash, "pages": pages_json(paragraph),
                    })
                node = TextNode(id_=paragraph.id, text=paragraph.text, embedding=vector.tolist(), metadata=metadata)
                # llama-index stores the SOURCE node id as `document_id`, the key filters use.
                node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=document.id)
                nodes.append(node)
        if nodes:
            store.add(nodes)
        if self._server is not None:
            for document, _, sentence_vectors in batch:
                self._server.add_sentences(document, sentence_vectors)

    def _publish(self, batch: list[tuple[Document, np.ndarray, list[np.ndarray]]]) -> None:
        """Server mode: each document's record (last), then a corpus version bump, one document at a
        time, so a kill in the middle leaves every published document announced but the last."""
        for document, _, sentence_vectors in batch:
            self._server.write_record(document, sum(len(v) for v in sentence_vectors))
            self._server.bump_version()

    def _commit_catalog(self, document: Document, sentence_vectors: list[np.ndarray]) -> None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            _insert_catalog_rows(db, document, sentence_vectors)
            db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def delete_document(self, document_id: str) -> None:
        if self._server is not None:
            self._server.delete_document(document_id)  # the record first, then its rows
            self._server.bump_version()
        else:
            self._chroma().delete(document_id)
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        _delete_catalog_rows(db, document_id)
        db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")
        db.execute("COMMIT")

    def chroma_count(self) -> int:
        self._chroma()
        return self._chroma_collection.count()


def _reader_version(config: Config) -> str | None:
    """The reader model's version, recorded in the server's manifest (for operators; not checked)."""
    try:
        from assistant.reader import READER_DIR, read_reader_json

        return str(read_reader_json(Path(config.reader_model_path or READER_DIR)).get("version", "unknown"))
    except Exception:  # noqa: BLE001 - informational only: a missing reader is reported where it is used
        return None


def _insert_catalog_rows(db: sqlite3.Connection, document: Document, sentence_vectors: list[np.ndarray]) -> None:
    """Replace one document's catalog rows (inside the caller's transaction)."""
    db.execute("DELETE FROM paragraphs WHERE document_id=?", (document.id,))
    db.executemany(
        "INSERT INTO paragraphs (id, document_id, number, collection, section, kind, text, sentences, comment, "
        "sentence_vectors, pages) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                p.id, document.id, p.number, document.collection, p.section, p.kind, p.text,
                json.dumps([[s.start, s.end] for s in p.sentences]),
                json.dumps(p.comment.__dict__) if p.comment else None,
                np.ascontiguousarray(vectors, dtype=np.float32).tobytes(),
                pages_json(p) or None,
            )
            for p, vectors in zip(document.paragraphs, sentence_vectors)
        ],
    )
    db.execute(
        "INSERT OR REPLACE INTO documents (id, path, collection, content_hash, title, publisher, author, date, url, "
        "paragraph_count, ingested_at, reference) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (document.id, document.path, document.collection, document.content_hash, document.title, document.publisher,
         document.author, document.date, document.url, len(document.paragraphs), time.time(), document.reference),
    )
    db.execute(
        "INSERT OR REPLACE INTO dropped_lines (document_id, lines) VALUES (?, ?)",
        (document.id, json.dumps([[d.text, d.reason] for d in document.dropped], ensure_ascii=False)),
    )


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Columns added since a catalog was created (CREATE TABLE IF NOT EXISTS leaves an old table as it is)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(paragraphs)")}
    if "pages" not in columns:  # page starts of PDF paragraphs (2026-12); filled when the document is re-ingested
        db.execute("ALTER TABLE paragraphs ADD COLUMN pages TEXT")
    if "reference" not in {row[1] for row in db.execute("PRAGMA table_info(documents)")}:  # 2026-12, likewise
        db.execute("ALTER TABLE documents ADD COLUMN reference TEXT")


def pages_json(paragraph: Paragraph) -> str:
    """A paragraph's page starts as stored (catalog column, server metadata): "" without pages."""
    return json.dumps(paragraph.page_starts) if paragraph.page_starts else ""


def _delete_catalog_rows(db: sqlite3.Connection, document_id: str) -> None:
    db.execute("DELETE FROM paragraphs WHERE document_id=?", (document_id,))
    db.execute("DELETE FROM documents WHERE id=?", (document_id,))
    db.execute("DELETE FROM dropped_lines WHERE document_id=?", (document_id,))


_DOCUMENT_COLUMNS = "id, path, title, publisher, author, date, url, collection, content_hash, paragraph_count, reference"
_PARAGRAPH_COLUMNS = "id, document_id, number, collection, section, kind, text, sentences, comment, pages"


def _paragraph(row) -> Paragraph:
    pid, document_id, number, collection, section, kind, text, sentences, comment, pages = row
    return Paragraph(
        document_id=document_id,
        number=number,
        text=text,
        section=section or "",
        kind=kind or "paragraph",
        sentences=[Span(a, b) for a, b in json.loads(sentences)],
        comment=CommentByline(**json.loads(comment)) if comment else None,
        collection=collection,
        page_starts=[(a, b) for a, b in json.loads(pages)] if pages else [],
    )


def _document(row) -> Document:
    id_, path, title, publisher, author, date, url, collection, content_hash, count, reference = row
    return Document(
        id=id_, path=path, title=title or id_, publisher=publisher or "", author=author or "", date=date or "",
        url=url or "", collection=collection, content_hash=content_hash, paragraph_count=count, reference=reference or "",
    )
