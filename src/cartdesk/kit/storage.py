"""Where attachment bytes live: one interface, a local-disk store and an S3-compatible store.

Blobs are content-addressed: the key is derived from the SHA-256 of the bytes, so
the same file uploaded twice is stored once, keys never collide, and a key says
nothing a caller chose (no user filename ever reaches a path or an object name).
The filename a person sees is kept on the attachment row and only sanitised for
display and Content-Disposition.

Uploads are written to a staging file first, in chunks, with their size counted
as they arrive: a body over the limit is refused as soon as it crosses it, never
buffered whole in memory, and nothing reaches the store until it is complete.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from cartdesk.kit.errors import NotFound, PayloadTooLarge

if TYPE_CHECKING:
    from cartdesk.config import Settings

CHUNK_SIZE = 64 * 1024
_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}$")


def key_for(sha256: str) -> str:
    """The storage key of a blob: fanned out in two levels so no directory grows huge."""
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def _check_key(key: str) -> str:
    # Keys are only ever made by key_for; anything else (a "../" smuggled through a
    # row edited by hand) is refused before it can name a path.
    if not _KEY.match(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


def safe_filename(raw: str | None, *, default: str = "attachment") -> str:
    """A display filename: no directories, no control characters, at most 200 characters."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().lstrip(".").strip()
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 200 - len(ext) - 1] + "." + ext) if dot and len(ext) <= 16 else name[:200]
    return name or default


@dataclass(frozen=True)
class Staged:
    """A complete upload waiting in a staging file."""

    path: Path
    size: int
    sha256: str

    @property
    def key(self) -> str:
        return key_for(self.sha256)


class StagingFile:
    """Collects an upload chunk by chunk, hashing and counting as it goes.

    ``write`` raises :class:`PayloadTooLarge` the moment the total passes
    ``max_bytes``; leaving the ``with`` block without :meth:`finish` (an error, a
    client that went away) deletes the partial file.
    """

    def __init__(self, directory: Path, *, max_bytes: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=directory, prefix="upload-", suffix=".part")
        self._file = os.fdopen(fd, "wb")
        self.path = Path(name)
        self.max_bytes = max_bytes
        self.size = 0
        self._hash = hashlib.sha256()
        self._finished: Staged | None = None

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise PayloadTooLarge(
                f"The file is larger than the {self.max_bytes} byte limit.",
                details={"max_bytes": self.max_bytes},
            )
        self._hash.update(chunk)
        self._file.write(chunk)

    def finish(self) -> Staged:
        self._file.close()
        self._finished = Staged(path=self.path, size=self.size, sha256=self._hash.hexdigest())
        return self._finished

    def discard(self) -> None:
        self._file.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> StagingFile:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is not None or self._finished is None:
            self.discard()


class AttachmentStore(Protocol):
    """Blob storage for attachments. Implementations must make ``save`` idempotent."""

    @property
    def staging_dir(self) -> Path: ...

    def save(self, staged: Staged, *, content_type: str) -> str:
        """Move a staged upload into the store; returns its key. The staging file is consumed."""
        ...

    def open(self, key: str) -> Iterator[bytes]:
        """The blob's bytes in chunks; NotFound when it is missing."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...


class LocalStore:
    """Files under one directory (``settings.attachments_path``), named by their hash."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def staging_dir(self) -> Path:
        # Inside the root so that saving is an atomic rename on the same file system.
        return self.root / ".staging"

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def save(self, staged: Staged, *, content_type: str) -> str:
        target = self._path(staged.key)
        if target.exists():
            staged.path.unlink(missing_ok=True)  # same bytes already stored
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged.path, target)
        return staged.key

    def open(self, key: str) -> Iterator[bytes]:
        path = self._path(key)
        try:
            handle = path.open("rb")
        except FileNotFoundError as exc:
            raise NotFound("The attachment's file is missing from storage.") from exc
        return _read_chunks(handle)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def _read_chunks(handle: Any) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK_SIZE):
            yield chunk


class S3Store:
    """An S3-compatible bucket (AWS, MinIO, R2, …) through boto3, imported only when used."""

    def __init__(
        self,
        *,
        bucket: str,
        endpoint_url: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str = "us-east-1",
        prefix: str = "attachments/",
        staging_dir: Path | None = None,
    ) -> None:
        try:
            import boto3
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError("The S3 attachment store needs boto3: pip install 'cartdesk[s3]'") from exc
        self.bucket = bucket
        self.prefix = prefix
        self._staging_dir = staging_dir or Path(tempfile.gettempdir()) / "cartdesk-staging"
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
        )

    @property
    def staging_dir(self) -> Path:
        return self._staging_dir

    def _object(self, key: str) -> str:
        return self.prefix + _check_key(key)

    def save(self, staged: Staged, *, content_type: str) -> str:
        try:
            if not self.exists(staged.key):
                # upload_file streams from disk and switches to multipart for big files.
                self.client.upload_file(
                    str(staged.path), self.bucket, self._object(staged.key),
                    ExtraArgs={"ContentType": content_type},
                )
        finally:
            staged.path.unlink(missing_ok=True)
        return staged.key

    def open(self, key: str) -> Iterator[bytes]:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._object(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise NotFound("The attachment's file is missing from storage.") from exc
            raise
        return _stream_body(response["Body"])

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._object(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._object(key))


def _stream_body(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK_SIZE)
    finally:
        body.close()


def create_store(settings: Settings) -> AttachmentStore:
    """The store that ``settings.attachments_backend`` names ("local" or "s3")."""
    backend = settings.attachments_backend.lower()
    if backend == "local":
        return LocalStore(settings.attachments_path)
    if backend == "s3":
        if not settings.s3_bucket:
            raise RuntimeError("CARTDESK_S3_BUCKET must be set when CARTDESK_ATTACHMENTS_BACKEND=s3")
        return S3Store(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            region=settings.s3_region,
            staging_dir=settings.data_dir / "staging",
        )
    raise RuntimeError(f"Unknown attachments backend {settings.attachments_backend!r} (use 'local' or 's3')")
