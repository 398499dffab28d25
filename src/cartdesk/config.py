"""One Settings class for the whole application.

Every value has a working default so that Cartdesk boots with no configuration:
an SQLite file under ./var, in-process jobs and an in-memory realtime hub.
Settings are read from the environment (prefix ``CARTDESK_``) or a ``.env`` file
only when :func:`get_settings` is called, never at import time.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CARTDESK_", env_file=".env", extra="ignore")

    # Storage
    database_url: str = "sqlite:///./var/cartdesk.db"
    redis_url: str | None = None
    data_dir: Path = Path("./var")
    attachments_backend: str = "local"  # "local" or "s3"
    attachments_dir: Path | None = None
    s3_endpoint_url: str | None = None
    s3_bucket: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"
    max_attachment_bytes: int = 25 * 1024 * 1024

    # Web
    secret_key: str = Field(default="", description="Signs session cookies; generated into var/ when empty")
    base_url: str = "http://127.0.0.1:8000"
    session_cookie_secure: bool = False
    session_max_age_seconds: int = 14 * 24 * 3600

    # Customer portal: how long a signed order link (emailed, or made by a lookup) stays valid
    portal_link_max_age_seconds: int = 30 * 24 * 3600
    # Printed on return labels as the address parcels go back to.
    portal_return_address: str = "Returns dock, 1 Warehouse Way, Reno, NV 89501, US"
    # Connected shops: webhook delivery ids are kept this long to recognise replays (then purged hourly).
    webhook_receipt_retention_days: int = Field(default=30, ge=1)

    # Background work
    run_jobs_in_process: bool = True
    job_poll_interval: float = 1.0
    job_max_attempts: int = 8

    # Channels not yet connected whose replies go to <data_dir>/outbox/<channel>.jsonl
    # (comma-separated, e.g. "email,chat,sms,social"); `make run` sets it for the demo.
    dev_outbox_channels: str = ""

    # Email channel (docs/configuration.md). IMAP pollers run beside the job runner
    # (in process, or in `cartdesk worker`); the SMTP receiver listens when a host:port is set.
    email_imap_polling: bool = True
    email_imap_poll_interval: float = 60.0  # without IDLE
    email_imap_idle_timeout: float = 25.0
    email_smtp_listen: str = ""  # e.g. "0.0.0.0:2525" for forwarding addresses
    email_max_message_bytes: int = 40 * 1024 * 1024
    # Quarantined mail older than this is purged by a daily job (0 keeps it for ever).
    email_quarantine_days: int = Field(default=30, ge=0)

    # Knowledge base: fuse BM25 with sentence embeddings (needs the `ml` extra installed)
    kb_semantic: bool = False
    # Help-center views and searches are kept row by row this many days, then rolled up
    # into daily counts (per article / per wording) by the hourly `kb.rollup` job.
    kb_activity_raw_days: int = Field(default=90, ge=1)
    # Largest image an editor may upload for articles (PNG, JPEG, GIF or WebP only).
    kb_image_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    # Largest file (PDF, text, office document, zip) an editor may attach to an article.
    kb_attachment_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)

    # Live chat: new widget sessions (visitors) one IP address may start per minute, per process.
    chat_sessions_per_ip_per_minute: int = 30

    # Logging
    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _normalise_postgres(cls, value: str) -> str:
        # Accept the URLs people paste from their hosting panel; we always drive psycopg 3.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix):]
        return value

    @property
    def dev_outbox_channel_names(self) -> list[str]:
        return [c.strip() for c in self.dev_outbox_channels.split(",") if c.strip()]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def attachments_path(self) -> Path:
        return self.attachments_dir or (self.data_dir / "attachments")

    def resolved_secret_key(self) -> str:
        """The configured secret, or one generated once and kept in the data dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        import secrets

        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


@lru_cache
def get_settings() -> Settings:
    return Settings()
