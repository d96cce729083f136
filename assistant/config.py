"""The one configuration object: environment variables and flags, with working defaults.

Nothing needs setting for the default path (embedded Chroma under `.assistant/`, the bundled
MiniLM embedding model, the extractive answerer). An LLM is used only when
`ASSISTANT_LLM_BASE_URL` is set; a Chroma server only when `ASSISTANT_CHROMA_HOST` is set.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA_DIR = ".assistant"
DEFAULT_COLLECTION = "default"
MAX_QUESTION_CHARS = 2000
LLM_WHEN_UNSUPPORTED = ("abstain", "extractive")


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_list(name: str) -> list[str]:
    raw = _env(name, "") or ""
    return [part.strip() for part in raw.split(",") if part.strip()]


@dataclass(frozen=True)
class Config:
    """Every setting of the assistant. Build it with `Config.from_env(**overrides)`."""

    # --- the index -------------------------------------------------------------------------
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    chroma_host: str | None = None
    chroma_port: int = 8000
    # The Chroma collection name; several indexes can share one Chroma server by prefix.
    chroma_collection: str = "assistant-paragraphs"
    # Server mode: how often (seconds) an app process checks the server's corpus version, so an
    # ingest elsewhere shows up within about this long without a restart.
    corpus_poll_s: float = 10.0
    # A folder holding a sentence-transformers model; None means the bundled all-MiniLM-L6-v2.
    embed_model_path: str | None = None
    embed_batch_size: int = 32
    # Sentences encoded per model call at ingest; documents are committed after each group. Bigger
    # groups batch texts of like length together (less padding: 512 ran 11% below the model's raw
    # speed on the Python docs); a killed ingest loses at most one group (2048: ~15 s on 2 cores).
    ingest_group_sentences: int = 2048
    max_file_bytes: int = 50 * 1024 * 1024

    # --- retrieval (defaults chosen by measurement: docs/benchmarks.md) ---------------------
    top_k: int = 6  # passages handed to the answerer
    candidates: int = 40  # per retriever, before fusion
    # Retrieval defaults chosen on BEIR SciFact's train queries (docs/benchmarks.md) and checked on
    # the evaluation set's dev split: convex fusion, dense weight 0.7, dense score mostly from the
    # best sentence of each candidate.
    fusion: str = "convex"  # "convex" or "rrf"
    rrf_k: int = 60
    dense_weight: float = 0.7  # for fusion="convex" and weighted RRF
    sentence_weight: float = 0.75  # dense score = (1 - w) * paragraph cosine + w * best sentence cosine

    # --- answering --------------------------------------------------------------------------
    # A folder holding a reader model (`assistant reader train --out DIR`); None means the shipped one.
    reader_model_path: str | None = None
    # Sentences the reader reads per question at most (its cost grows with each; docs/benchmarks.md).
    reader_candidates: int = 24
    # int8 dynamic quantization of the reader's Linear layers: faster on a CPU, at a small cost in
    # quality (measured in the model card); ASSISTANT_READER_INT8=0 reads in float32.
    reader_int8: bool = True
    # A folder holding the answer-or-abstain decision's model (a reader folder with a fitted decision,
    # `assistant reader calibrate --model DIR`); None means the shipped one (assistant/extractive.py `answerability`).
    decision_model_path: str | None = None
    # A folder holding a verifier model (`assistant verifier train --out DIR`); None means the shipped one.
    verifier_model_path: str | None = None
    max_answer_words: int = 120
    max_question_chars: int = MAX_QUESTION_CHARS
    llm_base_url: str | None = None
    llm_model: str = "default"
    llm_api_key: str = "not-needed"
    llm_timeout_s: float = 30.0
    # Characters of numbered paragraphs sent to the LLM (about 1,400 tokens: fits a 2,048-token
    # window with the reply), and the most tokens it may write.
    llm_context_chars: int = 5500
    llm_max_tokens: int = 256
    # When nothing the LLM wrote is supported but the extractive answerer did answer: "abstain"
    # (the default) or "extractive" (give the extractive answer, with a notice).
    llm_when_unsupported: str = "abstain"

    # --- serving ----------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 7860
    root_path: str = ""
    api_tokens: tuple[str, ...] = ()  # "token" or "token:collection1|collection2"
    trusted_user_header: str | None = None
    # Proxies whose SSO header, X-Forwarded-Proto and X-Forwarded-For are believed; none by default.
    trusted_proxies: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    # Intranet pages that may embed the widget (`GET /widget.js`): credentialed CORS on /api/chat.
    widget_origins: tuple[str, ...] = ()
    frame_ancestors: str = "'self'"
    user_scopes: tuple[str, ...] = ()  # SSO users' collections: "user:coll1|coll2", "*:coll" for everyone else
    login_max_failures: int = 5  # failed /login attempts or invalid tokens per client address per minute, then 429
    max_body_bytes: int = 1024 * 1024  # request bodies of the JSON API
    max_upload_bytes: int = 25 * 1024 * 1024  # uploads (batch files, the chat's upload route)
    batch_max_rows: int = 5000  # questions in one batch file (the API and the batch tab; the CLI has --max-rows)
    example_questions: tuple[str, ...] = ()  # shown on the empty chat; empty means the bundled examples

    # --- review -----------------------------------------------------------------------------
    # The consultation review database (SQLAlchemy URL); None means SQLite at <data_dir>/reviews.db.
    database_url: str | None = None

    def __post_init__(self) -> None:
        if self.llm_when_unsupported not in LLM_WHEN_UNSUPPORTED:
            raise ValueError(f"ASSISTANT_LLM_WHEN_UNSUPPORTED must be 'abstain' or 'extractive', got {self.llm_when_unsupported!r}")

    @classmethod
    def from_env(cls, **overrides) -> "Config":
        """Read `ASSISTANT_*` variables; keyword overrides (from CLI flags) win when not None."""
        values: dict = {
            "data_dir": Path(_env("ASSISTANT_DATA_DIR", DEFAULT_DATA_DIR)),
            "chroma_host": _env("ASSISTANT_CHROMA_HOST"),
            "chroma_port": int(_env("ASSISTANT_CHROMA_PORT", "8000")),
            "chroma_collection": _env("ASSISTANT_CHROMA_COLLECTION", "assistant-paragraphs"),
            "corpus_poll_s": float(_env("ASSISTANT_CORPUS_POLL_S", "10")),
            "embed_model_path": _env("ASSISTANT_EMBED_MODEL"),
            "reader_model_path": _env("ASSISTANT_READER_MODEL"),
            "reader_candidates": int(_env("ASSISTANT_READER_CANDIDATES", "24")),
            "reader_int8": (_env("ASSISTANT_READER_INT8", "1") or "1").lower() not in ("0", "false", "no"),
            "verifier_model_path": _env("ASSISTANT_VERIFIER_MODEL"),
            "decision_model_path": _env("ASSISTANT_DECISION_MODEL"),
            "top_k": int(_env("ASSISTANT_TOP_K", "6")),
            "fusion": _env("ASSISTANT_FUSION", "convex"),
            "ingest_group_sentences": int(_env("ASSISTANT_INGEST_GROUP_SENTENCES", "2048")),
            "sentence_weight": float(_env("ASSISTANT_SENTENCE_WEIGHT", "0.75")),
            "dense_weight": float(_env("ASSISTANT_DENSE_WEIGHT", "0.7")),
            "llm_base_url": _env("ASSISTANT_LLM_BASE_URL"),
            "llm_model": _env("ASSISTANT_LLM_MODEL", "default"),
            "llm_api_key": _env("ASSISTANT_LLM_API_KEY", "not-needed"),
            "llm_timeout_s": float(_env("ASSISTANT_LLM_TIMEOUT", "30")),
            "llm_context_chars": int(_env("ASSISTANT_LLM_CONTEXT_CHARS", "5500")),
            "llm_max_tokens": int(_env("ASSISTANT_LLM_MAX_TOKENS", "256")),
            "llm_when_unsupported": _env("ASSISTANT_LLM_WHEN_UNSUPPORTED", "abstain"),
            "host": _env("ASSISTANT_HOST", "127.0.0.1"),
            "port": int(_env("ASSISTANT_PORT", "7860")),
            "root_path": _env("ASSISTANT_ROOT_PATH", ""),
            "api_tokens": tuple(_env_list("ASSISTANT_API_TOKENS")),
            "trusted_user_header": _env("ASSISTANT_TRUSTED_USER_HEADER"),
            "trusted_proxies": tuple(_env_list("ASSISTANT_TRUSTED_PROXIES")),
            "cors_origins": tuple(_env_list("ASSISTANT_CORS_ORIGINS")),
            "widget_origins": tuple(_env_list("ASSISTANT_WIDGET_ORIGINS")),
            "frame_ancestors": _env("ASSISTANT_FRAME_ANCESTORS", "'self'"),
            "user_scopes": tuple(_env_list("ASSISTANT_USER_SCOPES")),
            "login_max_failures": int(_env("ASSISTANT_LOGIN_MAX_FAILURES", "5")),
            "max_body_bytes": int(_env("ASSISTANT_MAX_BODY_BYTES", str(1024 * 1024))),
            "max_upload_bytes": int(_env("ASSISTANT_MAX_UPLOAD_BYTES", str(25 * 1024 * 1024))),
            "batch_max_rows": int(_env("ASSISTANT_BATCH_MAX_ROWS", "5000")),
            "example_questions": tuple(q.strip() for q in (_env("ASSISTANT_EXAMPLE_QUESTIONS", "") or "").split("|") if q.strip()),
            "database_url": _env("ASSISTANT_DATABASE_URL"),
        }
        for key, value in overrides.items():
            if value is not None:
                values[key] = Path(value) if key == "data_dir" else value
        return cls(**values)

    def replace(self, **changes) -> "Config":
        return dataclasses.replace(self, **changes)

    @property
    def uses_chroma_server(self) -> bool:
        return bool(self.chroma_host)

    @property
    def uses_llm(self) -> bool:
        return bool(self.llm_base_url)
