"""Alembic environment: runs migrations on the connection assistant.review.store.upgrade passes in."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only store.upgrade runs migrations
    raise RuntimeError("run review migrations through assistant.review.store.upgrade (it passes the connection)")

context.configure(connection=connection, target_metadata=None)
with context.begin_transaction():
    context.run_migrations()
