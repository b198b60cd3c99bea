"""Refresh results sealed with a key only holders of the *old* refresh token can derive.

The shared store (files, Redis) holds new token sets for the grace window; whoever can read the
store but does not hold the old refresh token learns nothing from it (DESIGN §6).
HKDF-SHA256 (RFC 5869) derives an AES-256-GCM key from the old refresh token; the store key
(its SHA-256) is bound in as associated data so a blob cannot be replayed under another key.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12
INFO = b"osapp.claims.refresh result v1"


def store_key(refresh_token: str) -> str:
    """The name a refresh token's state is kept under: its SHA-256, never the token."""
    return hashlib.sha256(refresh_token.encode("utf-8", "surrogatepass")).hexdigest()


def _aead(refresh_token: str) -> AESGCM:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO)
    return AESGCM(hkdf.derive(refresh_token.encode("utf-8", "surrogatepass")))


def seal(refresh_token: str, payload: dict[str, Any]) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    plaintext = json.dumps(payload, separators=(",", ":")).encode()
    return nonce + _aead(refresh_token).encrypt(nonce, plaintext, store_key(refresh_token).encode())


def unseal(refresh_token: str, blob: bytes) -> dict[str, Any] | None:
    """The payload, or None when the blob is corrupt or was sealed for another token."""
    if len(blob) <= NONCE_BYTES:
        return None
    try:
        plaintext = _aead(refresh_token).decrypt(
            blob[:NONCE_BYTES], blob[NONCE_BYTES:], store_key(refresh_token).encode()
        )
        payload = json.loads(plaintext)
    except (InvalidTag, ValueError):
        return None
    return payload if isinstance(payload, dict) else None
