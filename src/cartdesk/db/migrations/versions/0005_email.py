"""email channel: mailboxes, email threads (reply tokens), quarantine

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cartdesk.db.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('email_mailboxes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('brand_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('from_name', sa.String(length=200), nullable=False),
    sa.Column('signature', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('inbound_address', sa.String(length=320), nullable=True),
    sa.Column('inbound_secret', sa.String(length=64), nullable=False),
    sa.Column('imap_host', sa.String(length=255), nullable=True),
    sa.Column('imap_port', sa.Integer(), nullable=False),
    sa.Column('imap_security', sa.String(length=16), nullable=False),
    sa.Column('imap_username', sa.String(length=320), nullable=True),
    sa.Column('imap_password_enc', sa.Text(), nullable=True),
    sa.Column('imap_folder', sa.String(length=200), nullable=False),
    sa.Column('imap_done_folder', sa.String(length=200), nullable=True),
    sa.Column('smtp_host', sa.String(length=255), nullable=True),
    sa.Column('smtp_port', sa.Integer(), nullable=False),
    sa.Column('smtp_security', sa.String(length=16), nullable=False),
    sa.Column('smtp_username', sa.String(length=320), nullable=True),
    sa.Column('smtp_password_enc', sa.Text(), nullable=True),
    sa.Column('thread_by_subject', sa.Boolean(), nullable=False),
    sa.Column('order_window_days', sa.Integer(), nullable=False),
    sa.Column('max_per_sender_per_hour', sa.Integer(), nullable=False),
    sa.Column('accept_unknown_senders', sa.Boolean(), nullable=False),
    sa.Column('drop_spam', sa.Boolean(), nullable=False),
    sa.Column('acknowledge_new', sa.Boolean(), nullable=False),
    sa.Column('last_fetch_at', cartdesk.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_fetch_count', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_error_at', cartdesk.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('idle_supported', sa.Boolean(), nullable=True),
    sa.Column('imap_uid_validity', sa.BigInteger(), nullable=True),
    sa.Column('imap_last_uid', sa.BigInteger(), nullable=True),
    sa.Column('created_at', cartdesk.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', cartdesk.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['brand_id'], ['brands.id'], name=op.f('fk_email_mailboxes_brand_id_brands')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_mailboxes')),
    sa.UniqueConstraint('address', name=op.f('uq_email_mailboxes_address')),
    sa.UniqueConstraint('inbound_address', name=op.f('uq_email_mailboxes_inbound_address')),
    sa.UniqueConstraint('inbound_secret', name=op.f('uq_email_mailboxes_inbound_secret'))
    )
    with op.batch_alter_table('email_mailboxes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_mailboxes_brand_id'), ['brand_id'], unique=False)

    op.create_table('email_quarantine',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('message_key', sa.String(length=500), nullable=False),
    sa.Column('sender', sa.String(length=320), nullable=True),
    sa.Column('subject', sa.String(length=500), nullable=True),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', cartdesk.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('viewed_at', cartdesk.db.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['mailbox_id'], ['email_mailboxes.id'], name=op.f('fk_email_quarantine_mailbox_id_email_mailboxes'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_quarantine')),
    sa.UniqueConstraint('message_key', name=op.f('uq_email_quarantine_message_key'))
    )
    with op.batch_alter_table('email_quarantine', schema=None) as batch_op:
        batch_op.create_index('ix_email_quarantine_mailbox_created', ['mailbox_id', 'created_at'], unique=False)

    op.create_table('email_threads',
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('reply_token', sa.String(length=32), nullable=False),
    sa.Column('customer_address', sa.String(length=320), nullable=False),
    sa.Column('order_numbers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', cartdesk.db.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_email_threads_conversation_id_conversations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['mailbox_id'], ['email_mailboxes.id'], name=op.f('fk_email_threads_mailbox_id_email_mailboxes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('conversation_id', name=op.f('pk_email_threads')),
    sa.UniqueConstraint('reply_token', name=op.f('uq_email_threads_reply_token'))
    )
    with op.batch_alter_table('email_threads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_threads_mailbox_id'), ['mailbox_id'], unique=False)


def downgrade() -> None:
    op.drop_table("email_threads")
    op.drop_table("email_quarantine")
    op.drop_table("email_mailboxes")
