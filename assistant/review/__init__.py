"""Consultation review: reviewers check, edit and sign off batch answers, with an audit trail.

`records` holds the typed records (Review, ReviewItem, AuditEntry, ...), `service.ReviewService` the
operations (create, list, get, update_item, audit, export, staleness), `store` the database tables and
migrations (SQLAlchemy + Alembic; imported only by review commands), `command` the CLI.
"""
