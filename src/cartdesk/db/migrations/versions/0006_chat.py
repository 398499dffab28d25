"""live chat: widget settings, visitors, the chat log, visitor uploads

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cartdesk.db.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TS = cartdesk.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "chat_widget_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("color", sa.String(length=16), nullable=False),
        sa.Column("greeting", sa.String(length=300), nullable=False),
        sa.Column("offline_message", sa.String(length=300), nullable=False),
        sa.Column("position", sa.String(length=8), nullable=False),
        sa.Column("reply_time", sa.String(length=60), nullable=False),
        sa.Column("business_hours", _JSON, nullable=False),
        sa.Column("identity_secret", sa.String(length=128), nullable=True),
        sa.Column("prechat_name", sa.Boolean(), nullable=False),
        sa.Column("prechat_email", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"], name=op.f("fk_chat_widget_settings_brand_id_brands"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_widget_settings")),
        sa.UniqueConstraint("brand_id", name=op.f("uq_chat_widget_settings_brand_id")),
    )
    op.create_table(
        "chat_visitors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=64), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("conversation_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("current_url", sa.String(length=2000), nullable=True),
        sa.Column("page_title", sa.String(length=300), nullable=True),
        sa.Column("user_agent", sa.String(length=400), nullable=True),
        sa.Column("visitor_read_seq", sa.Integer(), nullable=False),
        sa.Column("agent_read_seq", sa.Integer(), nullable=False),
        sa.Column("last_seen_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"], name=op.f("fk_chat_visitors_brand_id_brands"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_chat_visitors_customer_id_customers"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name=op.f("fk_chat_visitors_conversation_id_conversations"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_visitors")),
        sa.UniqueConstraint("public_id", name=op.f("uq_chat_visitors_public_id")),
    )
    with op.batch_alter_table("chat_visitors") as batch_op:
        batch_op.create_index("ix_chat_visitors_conversation", ["conversation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_visitors_customer_id"), ["customer_id"], unique=False)
    op.create_table(
        "chat_log",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("visitor_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name=op.f("fk_chat_log_conversation_id_conversations"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], name=op.f("fk_chat_log_message_id_messages"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["visitor_id"], ["chat_visitors.id"], name=op.f("fk_chat_log_visitor_id_chat_visitors"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_chat_log")),
        sa.UniqueConstraint("message_id", name=op.f("uq_chat_log_message_id")),
    )
    with op.batch_alter_table("chat_log") as batch_op:
        batch_op.create_index("ix_chat_log_conversation_seq", ["conversation_id", "seq"], unique=False)
        batch_op.create_index("ix_chat_log_visitor_seq", ["visitor_id", "seq"], unique=False)
    op.create_table(
        "chat_uploads",
        sa.Column("attachment_id", sa.Integer(), nullable=False),
        sa.Column("visitor_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["attachment_id"], ["attachments.id"],
                                name=op.f("fk_chat_uploads_attachment_id_attachments"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["visitor_id"], ["chat_visitors.id"],
                                name=op.f("fk_chat_uploads_visitor_id_chat_visitors"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("attachment_id", name=op.f("pk_chat_uploads")),
    )
    with op.batch_alter_table("chat_uploads") as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_uploads_visitor_id"), ["visitor_id"], unique=False)
    op.create_table(
        "chat_agent_seen",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("seen_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_chat_agent_seen_user_id_users"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_chat_agent_seen")),
    )


def downgrade() -> None:
    op.drop_table("chat_agent_seen")
    op.drop_table("chat_uploads")
    op.drop_table("chat_log")
    op.drop_table("chat_visitors")
    op.drop_table("chat_widget_settings")
