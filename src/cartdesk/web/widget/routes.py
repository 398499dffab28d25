"""The widget's script (``/widget.js``, the one line a store pastes) and the demo shop page.

``/demo/shop`` is a small storefront with the widget installed, so anyone running
``make run`` can chat as a shopper in one tab and answer as an agent in another.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse

from cartdesk.brands import service as brands_service
from cartdesk.db.deps import DbSession
from cartdesk.kit.routing import Router
from cartdesk.web.templating import STATIC_DIR

router = Router()
WIDGET_JS = STATIC_DIR / "widget" / "widget.js"

PRODUCTS = (
    ("Ridge 2 tent", "Two-person, 2.1 kg, three seasons", "289.00", "#5b7f5a"),
    ("Stormline rain shell", "Waterproof, taped seams, pit zips", "179.00", "#3f6f8f"),
    ("Trail 38 backpack", "38 litres, adjustable back length", "139.00", "#8a5a3c"),
    ("Alpine down jacket", "800-fill, packs into its pocket", "229.00", "#6b4f8f"),
)


@router.get("/widget.js", include_in_schema=False)
def widget_script() -> FileResponse:
    # Shops load it from their own pages: cross-origin, cached briefly so fixes reach them soon.
    return FileResponse(WIDGET_JS, media_type="text/javascript", headers={
        "Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300"})


@router.get("/demo/shop", response_class=HTMLResponse, include_in_schema=False)
def demo_shop(request: Request, session: DbSession, brand: str | None = None) -> HTMLResponse:
    found = brands_service.resolve(session, ref=brand)
    return request.app.state.templates.TemplateResponse(
        request, "widget/shop.html", {"brand": found, "products": PRODUCTS})
