"""Who a widget is: the signed anonymous visitor token, and the store's verified identity.

The visitor token is ``itsdangerous``-signed with the app's secret (its own salt), and
carries the visitor's public id and brand; the browser keeps it in localStorage. It
is a bearer credential for one visitor's chat and nothing else.

Verified identity follows the major chat vendors: the store's server computes
``HMAC-SHA256(identity_secret, user_id or email)`` (hex) for its logged-in shopper and
puts it on the page with the id/email; a matching hash lets the widget land on that
customer's own record. Without it, an email typed by a visitor is a claim, stored
unverified.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

_SALT = "cartdesk.chat.visitor.v1"


@dataclass(frozen=True, slots=True)
class VisitorClaim:
    public_id: str
    brand_id: int


class VisitorTokens:
    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt=_SALT)

    def issue(self, *, public_id: str, brand_id: int) -> str:
        return self._serializer.dumps({"v": public_id, "b": brand_id})

    def read(self, token: str | None) -> VisitorClaim | None:
        """The claim in a genuine token; None for a missing, forged or malformed one."""
        if not token or len(token) > 512:
            return None
        try:
            data = self._serializer.loads(token)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("v"), str) or not isinstance(data.get("b"), int):
            return None
        return VisitorClaim(public_id=data["v"], brand_id=data["b"])


def new_public_id() -> str:
    return secrets.token_urlsafe(18)


def new_identity_secret() -> str:
    return secrets.token_hex(32)


def identity_hash(secret: str, value: str) -> str:
    """What the store's server computes for a logged-in shopper (documented for integrators)."""
    return hmac.new(secret.encode(), value.strip().encode(), hashlib.sha256).hexdigest()


def verify_identity(secret: str | None, *, value: str, given_hash: str) -> bool:
    if not secret or not value or not given_hash:
        return False
    return hmac.compare_digest(identity_hash(secret, value), given_hash.strip().lower())
