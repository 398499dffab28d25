"""Job runner (placeholder)."""

from __future__ import annotations

from cartdesk.config import Settings
from cartdesk.db.engine import Database


class JobRunner:
    def __init__(self, database: Database, *, settings: Settings) -> None:
        self.database = database
        self.settings = settings

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def wake(self) -> None:
        pass
