"""knowledge base: files under articles, and full text stemmed per language

- ``kb_article_attachments``: files (PDF, text, office, zip) listed under an article.
- The articles' full-text index stems each translation in its own language instead of
  English for all. PostgreSQL: ``kb_regconfig(language)`` picks the text-search
  configuration (german, french, ... else simple) inside the generated ``search_vector``,
  and the search asks the same function for the query's. SQLite: FTS5 stems English only,
  so the ``kb_fts`` table now holds words stemmed in Python (Snowball, ``kit/stemming.py``),
  written by its triggers through the ``cartdesk_stem`` function every connection registers.
- PostgreSQL's GIN index over ``search_vector`` is rebuilt without ``fastupdate``.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from cartdesk.db.base import UTCDateTime
from cartdesk.kit.stemming import LANGUAGES

revision: str = "0010"
# The lead relinks the chain at merge time (the brief names "0007_fts_automerge_off";
# this branch's 0007 is called "0007").
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLS = ("title", "search_tags", "body_text")
_OLD_PG_VECTOR = (
    "setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', search_tags), 'B') || "
    "setweight(to_tsvector('english', body_text), 'C')"
)
_PG_VECTOR = (
    "setweight(to_tsvector(kb_regconfig(language), title), 'A') || "
    "setweight(to_tsvector(kb_regconfig(language), search_tags), 'B') || "
    "setweight(to_tsvector(kb_regconfig(language), body_text), 'C')"
)


def upgrade() -> None:
    op.create_table(
        "kb_article_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("attachment_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["kb_articles.id"], ondelete="CASCADE",
                                name="fk_kb_article_attachments_article_id_kb_articles"),
        sa.ForeignKeyConstraint(["attachment_id"], ["attachments.id"], ondelete="CASCADE",
                                name="fk_kb_article_attachments_attachment_id_attachments"),
        sa.PrimaryKeyConstraint("id", name="pk_kb_article_attachments"),
    )
    op.create_index("ix_kb_article_attachments_article", "kb_article_attachments", ["article_id", "position"])
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_stemmed_index()
    else:
        _postgres_language_configs()


def _postgres_language_configs() -> None:
    present = set(op.get_bind().execute(sa.text("SELECT cfgname FROM pg_catalog.pg_ts_config")).scalars())
    cases = " ".join(f"WHEN '{code}' THEN '{name}'" for code, name in sorted(LANGUAGES.items()) if name in present)
    # IMMUTABLE (the mapping is fixed by this migration) so a generated column may use it;
    # a language code such as pt-BR is looked up by its first part.
    op.execute(
        "CREATE FUNCTION kb_regconfig(language text) RETURNS regconfig LANGUAGE sql IMMUTABLE PARALLEL SAFE AS "
        f"$$ SELECT (CASE lower(split_part(split_part(language, '-', 1), '_', 1)) {cases} "
        "ELSE 'simple' END)::pg_catalog.regconfig $$"
    )
    _postgres_vector(_PG_VECTOR, fastupdate=False)


def _postgres_vector(expression: str, *, fastupdate: bool) -> None:
    op.execute("DROP INDEX IF EXISTS ix_kb_article_translations_fts")
    op.execute("ALTER TABLE kb_article_translations DROP COLUMN search_vector")
    op.execute(f"ALTER TABLE kb_article_translations ADD COLUMN search_vector tsvector "
               f"GENERATED ALWAYS AS ({expression}) STORED")
    # fastupdate off: GIN's pending list (new entries kept unsorted until a vacuum merges them)
    # is scanned by every search and made the planner's index estimate so high that it read
    # and detoasted every vector instead (12 ms, not 3, at 3,000 articles). Articles are
    # written rarely, so each save updates the index directly.
    op.execute("CREATE INDEX ix_kb_article_translations_fts ON kb_article_translations USING gin (search_vector)"
               + ("" if fastupdate else " WITH (fastupdate = off)"))


def _drop_sqlite_index() -> None:
    for suffix in ("ai", "ad", "au"):
        op.execute(f"DROP TRIGGER IF EXISTS kb_fts_{suffix}")
    op.execute("DROP TABLE IF EXISTS kb_fts")


def _sqlite_stemmed_index() -> None:
    """A plain FTS5 table (it keeps its own copy of the stemmed words, so a row is deleted
    by rowid alone) over unicode61, which lower-cases and folds diacritics after our stemming."""
    _drop_sqlite_index()
    cols = ", ".join(_COLS)
    stemmed = ", ".join(f"cartdesk_stem(new.language, new.{c})" for c in _COLS)
    op.execute(f"CREATE VIRTUAL TABLE kb_fts USING fts5({cols}, tokenize='unicode61 remove_diacritics 2')")
    op.execute("CREATE TRIGGER kb_fts_ai AFTER INSERT ON kb_article_translations BEGIN "
               f"INSERT INTO kb_fts(rowid, {cols}) VALUES (new.id, {stemmed}); END")
    op.execute("CREATE TRIGGER kb_fts_ad AFTER DELETE ON kb_article_translations BEGIN "
               "DELETE FROM kb_fts WHERE rowid = old.id; END")
    op.execute(f"CREATE TRIGGER kb_fts_au AFTER UPDATE OF language, {cols} ON kb_article_translations BEGIN "
               "DELETE FROM kb_fts WHERE rowid = old.id; "
               f"INSERT INTO kb_fts(rowid, {cols}) VALUES (new.id, {stemmed}); END")
    existing = ", ".join(f"cartdesk_stem(language, {c})" for c in _COLS)
    op.execute(f"INSERT INTO kb_fts(rowid, {cols}) SELECT id, {existing} FROM kb_article_translations")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _drop_sqlite_index()
        cols = ", ".join(_COLS)
        new = ", ".join(f"new.{c}" for c in _COLS)
        old = ", ".join(f"old.{c}" for c in _COLS)
        op.execute(f"CREATE VIRTUAL TABLE kb_fts USING fts5({cols}, content='kb_article_translations', "
                   "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')")
        op.execute("CREATE TRIGGER kb_fts_ai AFTER INSERT ON kb_article_translations BEGIN "
                   f"INSERT INTO kb_fts(rowid, {cols}) VALUES (new.id, {new}); END")
        op.execute("CREATE TRIGGER kb_fts_ad AFTER DELETE ON kb_article_translations BEGIN "
                   f"INSERT INTO kb_fts(kb_fts, rowid, {cols}) VALUES ('delete', old.id, {old}); END")
        op.execute(f"CREATE TRIGGER kb_fts_au AFTER UPDATE OF {cols} ON kb_article_translations BEGIN "
                   f"INSERT INTO kb_fts(kb_fts, rowid, {cols}) VALUES ('delete', old.id, {old}); "
                   f"INSERT INTO kb_fts(rowid, {cols}) VALUES (new.id, {new}); END")
        op.execute("INSERT INTO kb_fts(kb_fts) VALUES ('rebuild')")
    else:
        _postgres_vector(_OLD_PG_VECTOR, fastupdate=True)
        op.execute("DROP FUNCTION kb_regconfig(text)")
    op.drop_index("ix_kb_article_attachments_article", table_name="kb_article_attachments")
    op.drop_table("kb_article_attachments")
