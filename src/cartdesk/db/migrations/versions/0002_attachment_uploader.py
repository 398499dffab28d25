"""attachments remember who uploaded them

Uploads through the API exist before the message that carries them; until then
only their uploader may read or attach them.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode rebuilds the table on SQLite (which cannot add a foreign key in
    # place) and is a plain ALTER TABLE on PostgreSQL.
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uploaded_by_user_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_attachments_uploaded_by_user_id"), ["uploaded_by_user_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_attachments_uploaded_by_user_id_users"), "users", ["uploaded_by_user_id"], ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_attachments_uploaded_by_user_id_users"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_attachments_uploaded_by_user_id"))
        batch_op.drop_column("uploaded_by_user_id")
