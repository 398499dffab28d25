"""Full-text search over conversations, messages and customers (SQLite FTS5 or PostgreSQL)."""
