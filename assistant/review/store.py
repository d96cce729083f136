"""The review database: SQLAlchemy tables, engine creation and Alembic migrations.

Imported only by review commands and routes (SQLAlchemy and Alembic are heavy imports).

The database is `Config.database_url` (ASSISTANT_DATABASE_URL, e.g. postgresql+psycopg://user@host/db),
else SQLite at `<data_dir>/reviews.db`. `open_engine(config)` creates it when missing and runs
`alembic upgrade head` (assistant/review/migrations) before anything else touches it.

Tables: review_reviews, review_items (citations, unsupported sentences, stale paragraphs and approved
citations as JSON text), review_comments, review_audit. The audit log is append-only: this package
only ever INSERTs into review_audit (`append_audit`), and the database refuses UPDATE and DELETE on it
with triggers (SQLite and PostgreSQL; migration 0001).
"""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from assistant.config import Config

SQLITE_FILE = "reviews.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

metadata = sa.MetaData()

reviews = sa.Table(
    "review_reviews", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("collections", sa.Text, nullable=True),  # JSON list; NULL: every collection
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
)

items = sa.Table(
    "review_items", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("review_id", sa.Integer, sa.ForeignKey("review_reviews.id"), nullable=False, index=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("question_id", sa.Text, nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("citations", sa.Text, nullable=False),  # JSON list of Citation.to_dict() (text as cited)
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("unsupported", sa.Text, nullable=False),  # JSON list of sentences
    sa.Column("contradicted", sa.Text, nullable=False, server_default="[]"),  # JSON list: those of them the citations contradict
    sa.Column("stale", sa.Boolean, nullable=False),
    sa.Column("stale_paragraphs", sa.Text, nullable=False),  # JSON list of StaleParagraph.to_dict()
    sa.Column("reviewer", sa.Text, nullable=True),
    sa.Column("approved_at", sa.Text, nullable=True),
    sa.Column("approved_answer", sa.Text, nullable=True),
    sa.Column("approved_citations", sa.Text, nullable=False),  # JSON list of paragraph ids
    sa.Column("override", sa.Boolean, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("abstained", sa.Boolean, nullable=False),
    sa.Column("confidence", sa.Float, nullable=True),
)

comments = sa.Table(
    "review_comments", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.Integer, sa.ForeignKey("review_items.id"), nullable=False, index=True),
    sa.Column("author", sa.Text, nullable=False),
    sa.Column("at", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
)

audit_log = sa.Table(
    "review_audit", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("review_id", sa.Integer, sa.ForeignKey("review_reviews.id"), nullable=False, index=True),
    sa.Column("item_id", sa.Integer, nullable=True),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("at", sa.Text, nullable=False),
    sa.Column("field", sa.Text, nullable=False),
    sa.Column("before", sa.Text, nullable=True),
    sa.Column("after", sa.Text, nullable=True),
)


def database_url(config: Config) -> str:
    """The review database's SQLAlchemy URL (a bare postgresql:// gets the psycopg 3 driver)."""
    if config.database_url:
        url = config.database_url
        if url.startswith("postgresql://") or url.startswith("postgres://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url
    return f"sqlite:///{Path(config.data_dir).resolve() / SQLITE_FILE}"


def exists(config: Config) -> bool:
    """Whether a review database has been created (never creates one)."""
    url = sa.engine.make_url(database_url(config))
    if url.get_backend_name() == "sqlite":  # connecting would create the file
        return bool(url.database) and Path(url.database).is_file()
    engine = sa.create_engine(url)
    try:
        return sa.inspect(engine).has_table(items.name)
    finally:
        engine.dispose()


def open_engine(config: Config) -> Engine:
    """An engine on the review database, created if missing and migrated to the latest schema."""
    url = database_url(config)
    if url.startswith("sqlite:///"):
        Path(config.data_dir).mkdir(parents=True, exist_ok=True)
    try:
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            upgrade(connection)
    except sa.exc.ArgumentError as exc:
        from assistant.review.records import ReviewError

        raise ReviewError(f"ASSISTANT_DATABASE_URL is not a database URL: {exc}") from exc
    except sa.exc.OperationalError as exc:
        from assistant.errors import IndexNotReady

        raise IndexNotReady(f"cannot open the review database ({_redact(url)}): {exc.orig}") from exc
    return engine


def _redact(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def upgrade(connection: Connection) -> None:
    """`alembic upgrade head` on this connection."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    alembic_config = AlembicConfig()
    alembic_config.set_main_option("script_location", str(MIGRATIONS))
    alembic_config.attributes["connection"] = connection
    command.upgrade(alembic_config, "head")


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def append_audit(connection: Connection, review_id: int, item_id: int | None, actor: str, at: str,
                 field: str, before: str | None, after: str | None) -> None:
    """The only write to the audit log: one new row (never an update or a delete)."""
    connection.execute(audit_log.insert().values(
        review_id=review_id, item_id=item_id, actor=actor, at=at, field=field, before=before, after=after))
