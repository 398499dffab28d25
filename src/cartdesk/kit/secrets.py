"""Secrets at rest (mailbox passwords, shop API credentials): encrypted with a key derived
from the app's secret key.

Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) rather than our own
construction. Each use names its ``purpose``, which goes into the key derivation, so a
ciphertext taken from one column cannot be decrypted as another's. A database dump alone
does not reveal the secrets; losing the secret key means entering them again, which the
admin pages allow.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


class UndecryptableSecret(RuntimeError):
    """The ciphertext was made with another secret key (or was tampered with)."""


def _fernet(secret_key: str, purpose: str) -> Fernet:
    # "cartdesk-email-secrets:" was the email channel's derivation before this moved to kit:
    # kept as is, so mailbox passwords stored then still decrypt.
    digest = hashlib.sha256(f"cartdesk-{purpose}-secrets:".encode() + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(secret_key: str, value: str, *, purpose: str) -> str:
    return _fernet(secret_key, purpose).encrypt(value.encode()).decode("ascii")


def decrypt(secret_key: str, token: str | None, *, purpose: str) -> str | None:
    if not token:
        return None
    try:
        return _fernet(secret_key, purpose).decrypt(token.encode("ascii")).decode()
    except InvalidToken as exc:
        raise UndecryptableSecret(f"A stored {purpose} secret cannot be decrypted: was CARTDESK_SECRET_KEY "
                                  "changed? Enter it again.") from exc
