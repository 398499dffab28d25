"""live chat routing: per-brand chat team, per-agent capacity, on/off

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Server defaults fill the brands that already saved settings; new rows get the model's.
    with op.batch_alter_table("chat_widget_settings") as batch_op:
        batch_op.add_column(sa.Column("routing", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("routing_team_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("max_chats_per_agent", sa.Integer(), nullable=False, server_default="3"))
        batch_op.create_foreign_key(batch_op.f("fk_chat_widget_settings_routing_team_id_teams"), "teams",
                                    ["routing_team_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("chat_widget_settings") as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_chat_widget_settings_routing_team_id_teams"), type_="foreignkey")
        batch_op.drop_column("max_chats_per_agent")
        batch_op.drop_column("routing_team_id")
        batch_op.drop_column("routing")
