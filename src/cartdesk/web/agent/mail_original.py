"""An inbound mail's original HTML, as its own page: embedded by the conversation view in a
sandboxed iframe, or opened in a tab."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from cartdesk.channels.email.original import original_html
from cartdesk.conversations.attachment_routes import attachment_store
from cartdesk.db.deps import DbSession
from cartdesk.kit.routing import Router
from cartdesk.web.deps import AgentPrincipal

router = Router(prefix="/mail")

# Belt and braces over the sanitiser: no scripts, no forms, no plugins, and no remote loads
# at all (tracking pixels would tell the sender when an agent opened the mail); our own
# pages may frame it, nobody else.
_POLICY = ("sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
           "frame-ancestors 'self'; base-uri 'none'; form-action 'none'")
_PAGE = """<!doctype html><html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<title>Original message</title><style>body{{font:14px/1.5 system-ui,sans-serif;color:#1f2937;margin:12px;
overflow-wrap:anywhere}}img{{max-width:100%;height:auto}}table{{max-width:100%}}</style></head>
<body>{body}</body></html>"""


@router.get("/messages/{message_id}/original", name="mail_original")
def mail_original(request: Request, message_id: int, session: DbSession, principal: AgentPrincipal) -> Response:
    body = original_html(session, message_id=message_id, principal=principal, store=attachment_store(request))
    return Response(_PAGE.format(body=body), media_type="text/html", headers={
        "Content-Security-Policy": _POLICY, "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer", "Cache-Control": "private, no-store"})
