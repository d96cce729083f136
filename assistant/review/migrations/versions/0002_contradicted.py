"""Items record, apart from their unsupported sentences, those the cited paragraphs contradict
(the trained citation check's third outcome). Existing items start with none.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review_items") as batch:
        batch.add_column(sa.Column("contradicted", sa.Text, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("review_items") as batch:
        batch.drop_column("contradicted")
