"""Images in articles: uploaded by writers into the attachment store, served publicly.

An image is checked by its first bytes, not by the name or the type the browser
claims: only PNG, JPEG, GIF and WebP are kept (no SVG: it can carry script). The bytes
become an ordinary attachment (content-addressed, same store, same limits machinery);
a ``kb_images`` row makes that one attachment public under the brand's help center.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.conversations import attachments
from cartdesk.conversations.models import Attachment
from cartdesk.events import service as events_service
from cartdesk.kit.clock import utcnow
from cartdesk.kit.errors import NotFound, ValidationFailed
from cartdesk.kit.storage import AttachmentStore, Staged
from cartdesk.knowledge import service as kb_service
from cartdesk.knowledge.models import ArticleImage

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def sniff(head: bytes) -> str | None:
    """The image type the bytes really are, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def upload(session: Session, *, store: AttachmentStore, principal: Principal, brand_id: int, staged: Staged,
           filename: str | None) -> tuple[ArticleImage, Attachment]:
    kb_service.check_can_write(principal)
    with Path(staged.path).open("rb") as handle:
        content_type = sniff(handle.read(16))
    if content_type is None:
        raise ValidationFailed("Only PNG, JPEG, GIF and WebP images can go in articles.",
                               details=[{"field": "file", "allowed": list(IMAGE_TYPES)}])
    attachment = attachments.create(session, store=store, principal=principal, staged=staged, filename=filename,
                                    content_type=content_type)
    image = ArticleImage(brand_id=brand_id, attachment_id=attachment.id, created_at=utcnow())
    session.add(image)
    session.flush()
    events_service.record(session, verb="kb.image.uploaded", actor=principal.actor, subject_type="kb_image",
                          subject_id=image.id, brand_id=brand_id,
                          data={"filename": attachment.filename, "size": attachment.size})
    return image, attachment


def markdown_for(image: ArticleImage, attachment: Attachment, *, brand_slug: str) -> str:
    alt = attachment.filename.rsplit(".", 1)[0].replace("]", "").replace("[", "")
    # Quoted: a space or bracket in the name would otherwise end the Markdown link.
    return f"![{alt}](/hc/{brand_slug}/images/{image.id}/{quote(attachment.filename)})"


def get_public(session: Session, *, brand_id: int, image_id: int) -> Attachment:
    row = session.execute(select(ArticleImage, Attachment).join(Attachment, Attachment.id == ArticleImage.attachment_id)
                          .where(ArticleImage.id == image_id, ArticleImage.brand_id == brand_id)).first()
    if row is None:
        raise NotFound(f"Image {image_id} does not exist.", details={"id": image_id})
    return row[1]
