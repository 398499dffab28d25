"""Files under articles, downloaded by visitors (see knowledge/files.py)."""

from __future__ import annotations

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from cartdesk.conversations.attachment_routes import _disposition, attachment_store
from cartdesk.db.deps import DbSession
from cartdesk.kit.routing import Router
from cartdesk.knowledge import files
from cartdesk.web.helpcenter.common import brand_or_404

router = Router()


@router.get("/hc/{brand_slug}/files/{file_id}/{filename}")
async def article_file(brand_slug: str, file_id: int, filename: str, request: Request,
                       session: DbSession) -> StreamingResponse:
    """The id decides, the filename is for people. Served while the article is published and
    public; always as a download, with nosniff and a sandbox CSP, so no file runs in our origin."""
    brand = brand_or_404(session, brand_slug)
    link, attachment = files.get_public(session, brand_id=brand.id, file_id=file_id)
    chunks = await run_in_threadpool(attachment_store(request).open, attachment.storage_key)
    return StreamingResponse(chunks, media_type=files.KINDS[link.kind].content_type, headers={
        "Content-Length": str(attachment.size), "Content-Disposition": _disposition(attachment.filename, inline=False),
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "public, max-age=3600", "ETag": f'"{attachment.sha256}"',
    })
