"""Files attached to articles: PDFs, plain text, office documents and zip archives,
listed for download under the article in the help center.

A file is accepted by its name *and* its first bytes agreeing on one of ``KINDS``: a
``.pdf`` must start like a PDF, a ``.docx`` like a zip, a ``.txt`` must be UTF-8 with no
NUL byte. The browser's claimed type is ignored; the type we serve is the kind's own.
Files are always served as downloads (``Content-Disposition: attachment``) with
``nosniff`` and a sandbox CSP, so none of them can run in our origin. The bytes become
an ordinary attachment (same store, content-addressed); a ``kb_article_attachments``
row puts it under the article, public exactly when the article is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.conversations import attachments
from cartdesk.conversations.models import Attachment
from cartdesk.events import service as events_service
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import NotFound, ValidationFailed
from cartdesk.kit.storage import AttachmentStore, Staged
from cartdesk.knowledge import service as kb_service
from cartdesk.knowledge.models import Article, ArticleAttachment

# An article is a page, not a file share: past this many files it needs rewriting.
MAX_PER_ARTICLE = 20
_TEXT_HEAD = 64 * 1024  # how much of a text file is checked for being text

_PDF = (b"%PDF-",)
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")  # a zip (or OOXML/ODF), or an empty zip
_OLE = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)  # legacy Office (.doc, .xls, .ppt)
_TEXT: tuple[bytes, ...] = ()  # checked by decoding, not by a signature


@dataclass(frozen=True)
class Kind:
    name: str  # what visitors see: "PDF", "Word", ...
    content_type: str  # what we serve it as
    magic: tuple[bytes, ...]


KINDS: dict[str, Kind] = {
    "pdf": Kind("PDF", "application/pdf", _PDF),
    "txt": Kind("Text", "text/plain; charset=utf-8", _TEXT),
    "csv": Kind("CSV", "text/csv; charset=utf-8", _TEXT),
    "md": Kind("Text", "text/markdown; charset=utf-8", _TEXT),
    "zip": Kind("ZIP", "application/zip", _ZIP),
    "docx": Kind("Word", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", _ZIP),
    "xlsx": Kind("Excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", _ZIP),
    "pptx": Kind("PowerPoint", "application/vnd.openxmlformats-officedocument.presentationml.presentation", _ZIP),
    "odt": Kind("Document", "application/vnd.oasis.opendocument.text", _ZIP),
    "ods": Kind("Spreadsheet", "application/vnd.oasis.opendocument.spreadsheet", _ZIP),
    "odp": Kind("Presentation", "application/vnd.oasis.opendocument.presentation", _ZIP),
    "doc": Kind("Word", "application/msword", _OLE),
    "xls": Kind("Excel", "application/vnd.ms-excel", _OLE),
    "ppt": Kind("PowerPoint", "application/vnd.ms-powerpoint", _OLE),
}
ACCEPT = ",".join(f".{ext}" for ext in KINDS)  # for the editor's file input


def _is_text(head: bytes, *, complete: bool) -> bool:
    if b"\x00" in head:
        return False
    # A multi-byte character may be cut at the end of the head; the whole file may not be.
    for cut in (0,) if complete else (0, 1, 2, 3):
        try:
            head[: len(head) - cut].decode("utf-8")
            return True
        except UnicodeDecodeError:
            continue
    return False


def check_kind(filename: str, head: bytes, *, complete: bool) -> str:
    """The kind (file extension) the file really is, or ``ValidationFailed``."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    kind = KINDS.get(ext)
    if kind is not None:
        if kind.magic and head.startswith(kind.magic):
            return ext
        if not kind.magic and _is_text(head, complete=complete):
            return ext
    allowed = sorted(KINDS)
    raise ValidationFailed(
        "Attach PDF, text (.txt, .csv, .md), office documents or zip files; "
        "the name's extension must match what the file is.",
        details=[{"field": "file", "filename": filename, "allowed": allowed}],
    )


def list_for(session: Session, *, article_id: int) -> list[tuple[ArticleAttachment, Attachment]]:
    """The article's files in the order they are shown."""
    rows = session.execute(
        select(ArticleAttachment, Attachment).join(Attachment, Attachment.id == ArticleAttachment.attachment_id)
        .where(ArticleAttachment.article_id == article_id)
        .order_by(ArticleAttachment.position, ArticleAttachment.id)
    ).all()
    return [(link, attachment) for link, attachment in rows]


def add(session: Session, *, store: AttachmentStore, principal: Principal, article: Article, staged: Staged,
        filename: str | None) -> tuple[ArticleAttachment, Attachment]:
    """Check the file (who, how many, what it is), keep it, put it under the article."""
    kb_service.check_can_write(principal)
    count = session.scalar(select(func.count()).select_from(ArticleAttachment)
                           .where(ArticleAttachment.article_id == article.id)) or 0
    if count >= MAX_PER_ARTICLE:
        raise ValidationFailed(f"An article can have at most {MAX_PER_ARTICLE} files.",
                               details=[{"field": "file", "max_files": MAX_PER_ARTICLE}])
    name = filename or ""
    with Path(staged.path).open("rb") as handle:
        head = handle.read(_TEXT_HEAD)
    ext = check_kind(name, head, complete=staged.size <= _TEXT_HEAD)
    attachment = attachments.create(session, store=store, principal=principal, staged=staged, filename=name,
                                    content_type=KINDS[ext].content_type.split(";")[0])
    link = ArticleAttachment(article_id=article.id, attachment_id=attachment.id, kind=ext, position=count,
                             created_at=utcnow())
    session.add(link)
    session.flush()
    events_service.record(session, verb="kb.attachment.added", actor=principal.actor, subject_type="kb_article",
                          subject_id=article.id, brand_id=article.brand_id,
                          data={"file_id": link.id, "filename": attachment.filename, "size": attachment.size,
                                "kind": ext})
    return link, attachment


def _get_or_raise(session: Session, *, article_id: int, file_id: int) -> tuple[ArticleAttachment, Attachment]:
    row = session.execute(
        select(ArticleAttachment, Attachment).join(Attachment, Attachment.id == ArticleAttachment.attachment_id)
        .where(ArticleAttachment.id == file_id, ArticleAttachment.article_id == article_id)
    ).first()
    if row is None:
        raise NotFound(f"File {file_id} does not exist on this article.", details={"id": file_id})
    return row[0], row[1]


def get_or_raise(session: Session, *, article: Article, file_id: int) -> tuple[ArticleAttachment, Attachment]:
    """A file of an article the caller may already see (the caller checked the article)."""
    return _get_or_raise(session, article_id=article.id, file_id=file_id)


def remove(session: Session, *, principal: Principal, article: Article, file_id: int) -> None:
    """Take the file off the article. The attachment row goes too; the blob stays in the
    content-addressed store, where another attachment may share it."""
    kb_service.check_can_write(principal)
    link, attachment = _get_or_raise(session, article_id=article.id, file_id=file_id)
    data = {"file_id": link.id, "filename": attachment.filename, "size": attachment.size, "kind": link.kind}
    session.delete(link)
    session.delete(attachment)
    session.flush()
    events_service.record(session, verb="kb.attachment.removed", actor=principal.actor, subject_type="kb_article",
                          subject_id=article.id, brand_id=article.brand_id, data=data)


def get_public(session: Session, *, brand_id: int, file_id: int) -> tuple[ArticleAttachment, Attachment]:
    """A file visitors may download: its article is published and public, in this brand.
    Anything else is the same 404 as a file that does not exist."""
    row = session.execute(
        select(ArticleAttachment, Attachment)
        .join(Attachment, Attachment.id == ArticleAttachment.attachment_id)
        .join(Article, Article.id == ArticleAttachment.article_id)
        .where(ArticleAttachment.id == file_id, Article.brand_id == brand_id,
               *kb_service.visible_articles(include_internal=False))
    ).first()
    if row is None:
        raise NotFound(f"File {file_id} does not exist.", details={"id": file_id})
    return row[0], row[1]


def public_path(brand_slug: str, link: ArticleAttachment, attachment: Attachment) -> str:
    return f"/hc/{brand_slug}/files/{link.id}/{quote(attachment.filename)}"


def describe(rows: Sequence[tuple[ArticleAttachment, Attachment]]) -> list[dict[str, object]]:
    """What a page needs to list files: name, kind label, size, extension."""
    return [{"id": link.id, "filename": a.filename, "kind": link.kind, "label": KINDS[link.kind].name,
             "size": a.size} for link, a in rows]
