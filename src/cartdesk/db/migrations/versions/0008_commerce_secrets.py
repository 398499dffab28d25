"""Shop credentials encrypted at rest; the store-credit ledger

``store_connections.credentials`` (JSON) and ``webhook_secret`` held API tokens and secrets
in the clear. They become ``credentials_enc`` / ``webhook_secret_enc``: Fernet ciphertext
(``kit/secrets.py``, purpose "shop") under the app's secret key. Existing rows are
encrypted here, with the key that the app will use (``CARTDESK_SECRET_KEY`` or the one kept
in the data dir), so connected shops keep working. The downgrade decrypts them back.

``store_credit_entries``: each customer's store credit per brand and currency, one signed
entry per movement (a return settled as store credit issues one).

Revision ID: 0008_commerce_secrets
Revises: 0007
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURPOSE = "shop"  # as commerce/credentials.py


def _secret_key() -> str:
    key = context.config.attributes.get("secret_key")
    if key:
        return str(key)
    from cartdesk.config import get_settings

    return get_settings().resolved_secret_key()


def _json_type() -> sa.types.TypeEngine:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    from cartdesk.kit import secrets

    _create_store_credit()

    with op.batch_alter_table("store_connections") as batch:
        batch.add_column(sa.Column("credentials_enc", sa.Text(), nullable=True))
        batch.add_column(sa.Column("webhook_secret_enc", sa.Text(), nullable=True))
    bind = op.get_bind()
    table = sa.table("store_connections", sa.column("id", sa.Integer), sa.column("credentials", _json_type()),
                     sa.column("webhook_secret", sa.String), sa.column("credentials_enc", sa.Text),
                     sa.column("webhook_secret_enc", sa.Text))
    rows = bind.execute(sa.select(table.c.id, table.c.credentials, table.c.webhook_secret)).all()
    key = _secret_key() if rows else ""  # only ask for (or create) the key when there is something to seal
    for row in rows:
        creds = row.credentials if isinstance(row.credentials, dict) else json.loads(row.credentials or "{}")
        bind.execute(table.update().where(table.c.id == row.id).values(
            credentials_enc=secrets.encrypt(key, json.dumps(creds, sort_keys=True), purpose=PURPOSE),
            webhook_secret_enc=secrets.encrypt(key, row.webhook_secret or "", purpose=PURPOSE)))
    with op.batch_alter_table("store_connections") as batch:
        batch.alter_column("credentials_enc", existing_type=sa.Text(), nullable=False)
        batch.alter_column("webhook_secret_enc", existing_type=sa.Text(), nullable=False)
        batch.drop_column("credentials")
        batch.drop_column("webhook_secret")


def _create_store_credit() -> None:
    import cartdesk.db.base

    op.create_table(
        "store_credit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("refund_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("return_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", cartdesk.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"], name=op.f("fk_store_credit_entries_brand_id_brands")),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], ondelete="SET NULL",
                                name=op.f("fk_store_credit_entries_created_by_id_users")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE",
                                name=op.f("fk_store_credit_entries_customer_id_customers")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="SET NULL",
                                name=op.f("fk_store_credit_entries_order_id_orders")),
        sa.ForeignKeyConstraint(["refund_id"], ["refunds.id"], ondelete="SET NULL",
                                name=op.f("fk_store_credit_entries_refund_id_refunds")),
        sa.ForeignKeyConstraint(["return_id"], ["returns.id"], ondelete="SET NULL",
                                name=op.f("fk_store_credit_entries_return_id_returns")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_credit_entries")),
        sa.UniqueConstraint("refund_id", name=op.f("uq_store_credit_entries_refund_id")),
    )
    op.create_index("ix_store_credit_entries_customer", "store_credit_entries", ["customer_id", "created_at"])


def downgrade() -> None:
    from cartdesk.kit import secrets

    op.drop_index("ix_store_credit_entries_customer", table_name="store_credit_entries")
    op.drop_table("store_credit_entries")

    with op.batch_alter_table("store_connections") as batch:
        batch.add_column(sa.Column("credentials", _json_type(), nullable=True))
        batch.add_column(sa.Column("webhook_secret", sa.String(length=200), nullable=True))
    bind = op.get_bind()
    table = sa.table("store_connections", sa.column("id", sa.Integer), sa.column("credentials", _json_type()),
                     sa.column("webhook_secret", sa.String), sa.column("credentials_enc", sa.Text),
                     sa.column("webhook_secret_enc", sa.Text))
    rows = bind.execute(sa.select(table.c.id, table.c.credentials_enc, table.c.webhook_secret_enc)).all()
    key = _secret_key() if rows else ""
    for row in rows:
        raw = secrets.decrypt(key, row.credentials_enc, purpose=PURPOSE)
        bind.execute(table.update().where(table.c.id == row.id).values(
            credentials=json.loads(raw) if raw else {},
            webhook_secret=secrets.decrypt(key, row.webhook_secret_enc, purpose=PURPOSE) or ""))
    with op.batch_alter_table("store_connections") as batch:
        batch.alter_column("credentials", existing_type=_json_type(), nullable=False)
        batch.alter_column("webhook_secret", existing_type=sa.String(length=200), nullable=False)
        batch.drop_column("credentials_enc")
        batch.drop_column("webhook_secret_enc")
