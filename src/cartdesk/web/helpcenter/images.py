"""Article images, served publicly under the brand's help center (see knowledge/images.py)."""

from __future__ import annotations

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from cartdesk.conversations.attachment_routes import attachment_store
from cartdesk.db.deps import DbSession
from cartdesk.kit.routing import Router
from cartdesk.knowledge import images
from cartdesk.web.helpcenter.common import brand_or_404

router = Router()


@router.get("/hc/{brand_slug}/images/{image_id}/{filename}")
async def article_image(brand_slug: str, image_id: int, filename: str, request: Request,
                        session: DbSession) -> StreamingResponse:
    """The filename is for people and caches only; the id decides. Only sniffed image types
    were ever stored here, and nosniff + a sandbox CSP keep them from being anything else."""
    brand = brand_or_404(session, brand_slug)
    attachment = images.get_public(session, brand_id=brand.id, image_id=image_id)
    chunks = await run_in_threadpool(attachment_store(request).open, attachment.storage_key)
    return StreamingResponse(chunks, media_type=attachment.content_type, headers={
        "Content-Length": str(attachment.size), "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "public, max-age=86400", "ETag": f'"{attachment.sha256}"',
    })
