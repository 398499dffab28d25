from cartdesk.db.base import Base, TimestampMixin, UTCDateTime
from cartdesk.db.engine import Database, create_database
from cartdesk.db.session import on_commit

__all__ = ["Base", "Database", "TimestampMixin", "UTCDateTime", "create_database", "on_commit"]
