"""knowledge base and help center

Categories/sections, articles with translations and version history, related
articles, feedback, views, searches and deflections; the articles' full-text index
(SQLite FTS5 kept by triggers, PostgreSQL a weighted GIN expression index).

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from cartdesk.db.base import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _timestamps() -> list[sa.Column]:
    return [sa.Column("created_at", UTCDateTime(), nullable=False), sa.Column("updated_at", UTCDateTime(), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "kb_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("icon", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("translations", _JSON, nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"], name="fk_kb_categories_brand_id_brands"),
        sa.ForeignKeyConstraint(["parent_id"], ["kb_categories.id"], name="fk_kb_categories_parent_id_kb_categories"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_categories"),
        sa.UniqueConstraint("brand_id", "slug", name="uq_kb_categories_brand_id_slug"),
    )
    op.create_table(
        "kb_articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=160), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("default_language", sa.String(length=16), nullable=False),
        sa.Column("tags", _JSON, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.Column("view_count", sa.Integer(), nullable=False),
        sa.Column("helpful_count", sa.Integer(), nullable=False),
        sa.Column("unhelpful_count", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"], name="fk_kb_articles_brand_id_brands"),
        sa.ForeignKeyConstraint(["section_id"], ["kb_categories.id"], name="fk_kb_articles_section_id_kb_categories"),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name="fk_kb_articles_author_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_articles"),
        sa.UniqueConstraint("brand_id", "slug", name="uq_kb_articles_brand_id_slug"),
    )
    op.create_index("ix_kb_articles_section", "kb_articles", ["section_id", "status", "position"])
    op.create_index("ix_kb_articles_brand_updated", "kb_articles", ["brand_id", "updated_at"])
    op.create_table(
        "kb_article_translations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=False),
        sa.Column("body_md", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("search_tags", sa.String(length=1000), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        *_timestamps(),
        sa.ForeignKeyConstraint(["article_id"], ["kb_articles.id"], ondelete="CASCADE",
                                name="fk_kb_article_translations_article_id_kb_articles"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_article_translations"),
        sa.UniqueConstraint("article_id", "language", name="uq_kb_article_translations_article_id_language"),
    )
    op.create_table(
        "kb_article_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body_md", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["kb_articles.id"], ondelete="CASCADE",
                                name="fk_kb_article_versions_article_id_kb_articles"),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name="fk_kb_article_versions_author_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_article_versions"),
        sa.UniqueConstraint("article_id", "language", "version",
                            name="uq_kb_article_versions_article_id_language_version"),
    )
    op.create_table(
        "kb_related_articles",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("related_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["kb_articles.id"], ondelete="CASCADE",
                                name="fk_kb_related_articles_article_id_kb_articles"),
        sa.ForeignKeyConstraint(["related_id"], ["kb_articles.id"], ondelete="CASCADE",
                                name="fk_kb_related_articles_related_id_kb_articles"),
        sa.PrimaryKeyConstraint("article_id", "related_id", name="pk_kb_related_articles"),
    )
    op.create_table(
        "kb_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("helpful", sa.Boolean(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["kb_articles.id"], ondelete="CASCADE",
                                name="fk_kb_feedback_article_id_kb_articles"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_feedback"),
    )
    op.create_index("ix_kb_feedback_article", "kb_feedback", ["article_id", "created_at"])
    op.create_table(
        "kb_article_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"], name="fk_kb_article_views_brand_id_brands"),
        sa.ForeignKeyConstraint(["article_id"], ["kb_articles.id"], ondelete="CASCADE",
                                name="fk_kb_article_views_article_id_kb_articles"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_article_views"),
    )
    op.create_index("ix_kb_article_views_brand_time", "kb_article_views", ["brand_id", "created_at"])
    op.create_table(
        "kb_searches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("query", sa.String(length=300), nullable=False),
        sa.Column("normalized", sa.String(length=300), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("visitor", sa.String(length=64), nullable=False),
        sa.Column("result_count", sa.Integer(), nullable=False),
        sa.Column("clicked_article_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"], name="fk_kb_searches_brand_id_brands"),
        sa.ForeignKeyConstraint(["clicked_article_id"], ["kb_articles.id"], ondelete="SET NULL",
                                name="fk_kb_searches_clicked_article_id_kb_articles"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_searches"),
    )
    op.create_index("ix_kb_searches_brand_time", "kb_searches", ["brand_id", "created_at"])
    op.create_table(
        "kb_deflections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("query", sa.String(length=1000), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"], name="fk_kb_deflections_brand_id_brands"),
        sa.ForeignKeyConstraint(["article_id"], ["kb_articles.id"], ondelete="SET NULL",
                                name="fk_kb_deflections_article_id_kb_articles"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_deflections"),
    )
    op.create_index("ix_kb_deflections_brand_time", "kb_deflections", ["brand_id", "created_at"])
    op.create_table(
        "kb_embeddings",
        sa.Column("translation_id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["translation_id"], ["kb_article_translations.id"], ondelete="CASCADE",
                                name="fk_kb_embeddings_translation_id_kb_article_translations"),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"], name="fk_kb_embeddings_brand_id_brands"),
        sa.PrimaryKeyConstraint("translation_id", name="pk_kb_embeddings"),
    )
    op.create_index("ix_kb_embeddings_brand", "kb_embeddings", ["brand_id"])
    op.create_table(
        "kb_article_views_daily",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["kb_articles.id"], ondelete="CASCADE",
                                name="fk_kb_article_views_daily_article_id_kb_articles"),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"], name="fk_kb_article_views_daily_brand_id_brands"),
        sa.PrimaryKeyConstraint("article_id", "day", name="pk_kb_article_views_daily"),
    )
    op.create_index("ix_kb_article_views_daily_brand_day", "kb_article_views_daily", ["brand_id", "day"])
    op.create_table(
        "kb_images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("attachment_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"], name="fk_kb_images_brand_id_brands"),
        sa.ForeignKeyConstraint(["attachment_id"], ["attachments.id"], ondelete="CASCADE",
                                name="fk_kb_images_attachment_id_attachments"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_images"),
    )
    op.create_table(
        "kb_searches_daily",
        sa.Column("brand_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("normalized", sa.String(length=300), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("searches", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["brand_id"], ["brands.id"], name="fk_kb_searches_daily_brand_id_brands"),
        sa.PrimaryKeyConstraint("brand_id", "day", "normalized", "outcome", name="pk_kb_searches_daily"),
    )
    _create_search_index()


# Articles' full text: title, tags and body, weighted in that order. On PostgreSQL a
# generated column the ORM does not map (SQLite has FTS5 instead); knowledge/search.py reads it.
PG_VECTOR = (
    "setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', search_tags), 'B') || "
    "setweight(to_tsvector('english', body_text), 'C')"
)
_COLS = ("title", "search_tags", "body_text")


def _create_search_index() -> None:
    if op.get_bind().dialect.name != "sqlite":
        # Stored, not an expression index: ranking reads the vector of every match, and
        # recomputing to_tsvector over long bodies for each one cost ~0.5 s a query.
        op.execute(f"ALTER TABLE kb_article_translations ADD COLUMN search_vector tsvector "
                   f"GENERATED ALWAYS AS ({PG_VECTOR}) STORED")
        op.execute("CREATE INDEX ix_kb_article_translations_fts ON kb_article_translations USING gin (search_vector)")
        return
    cols = ", ".join(_COLS)
    new = ", ".join(f"new.{c}" for c in _COLS)
    old = ", ".join(f"old.{c}" for c in _COLS)
    op.execute(
        f"CREATE VIRTUAL TABLE kb_fts USING fts5({cols}, content='kb_article_translations', content_rowid='id', "
        "tokenize='porter unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER kb_fts_ai AFTER INSERT ON kb_article_translations BEGIN "
        f"INSERT INTO kb_fts(rowid, {cols}) VALUES (new.id, {new}); END"
    )
    op.execute(
        "CREATE TRIGGER kb_fts_ad AFTER DELETE ON kb_article_translations BEGIN "
        f"INSERT INTO kb_fts(kb_fts, rowid, {cols}) VALUES ('delete', old.id, {old}); END"
    )
    op.execute(
        f"CREATE TRIGGER kb_fts_au AFTER UPDATE OF {cols} ON kb_article_translations BEGIN "
        f"INSERT INTO kb_fts(kb_fts, rowid, {cols}) VALUES ('delete', old.id, {old}); "
        f"INSERT INTO kb_fts(rowid, {cols}) VALUES (new.id, {new}); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS kb_fts_{suffix}")
        op.execute("DROP TABLE IF EXISTS kb_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_kb_article_translations_fts")
    for table in ("kb_images", "kb_searches_daily", "kb_article_views_daily", "kb_embeddings", "kb_deflections", "kb_searches", "kb_article_views", "kb_feedback", "kb_related_articles",
                  "kb_article_versions", "kb_article_translations", "kb_articles", "kb_categories"):
        op.drop_table(table)
