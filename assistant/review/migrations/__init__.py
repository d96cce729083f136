"""Alembic migrations of the review database (run by assistant.review.store.upgrade)."""
