"""conversations: a partial index for the chat queue

Chat routing asks, whenever an agent comes online or frees up, for the unowned new or
open chats, oldest first (``channels/chat/routing.drain`` and ``queued_brands``). The
assignee index found every unassigned conversation of every channel and filtered them:
at a million conversations, thousands of unassigned emails per question. This index
holds only the unowned new and open conversations, by channel (the queries spell its
condition out as literal SQL, so that the planner can match it).

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The same text as cartdesk.conversations.models.CHAT_QUEUE_WHERE (a migration keeps its own copy).
_WHERE = "assignee_id IS NULL AND status IN ('new', 'open') AND merged_into_id IS NULL"


def upgrade() -> None:
    op.create_index("ix_conversations_chat_queue", "conversations", ["channel", "id"],
                    sqlite_where=sa.text(_WHERE), postgresql_where=sa.text(_WHERE))


def downgrade() -> None:
    op.drop_index("ix_conversations_chat_queue", table_name="conversations")
