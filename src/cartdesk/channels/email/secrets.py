"""Mailbox passwords at rest: encrypted with a key derived from the app's secret key.

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) rather than our own
construction. A database dump alone does not reveal the passwords; losing the
secret key means re-entering them, which the admin pages allow.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"cartdesk-email-secrets:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(secret_key: str, value: str) -> str:
    return _fernet(secret_key).encrypt(value.encode()).decode("ascii")


def decrypt(secret_key: str, token: str | None) -> str | None:
    if not token:
        return None
    try:
        return _fernet(secret_key).decrypt(token.encode("ascii")).decode()
    except InvalidToken as exc:
        raise RuntimeError("The mailbox password cannot be decrypted: was CARTDESK_SECRET_KEY changed? "
                           "Enter the password again.") from exc
