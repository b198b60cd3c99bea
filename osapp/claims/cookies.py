"""The session cookies: names, attributes (from one function) and chunked reassembly.

A token too large for one cookie is split into `<name>.0`, `<name>.1`, … and joined on read;
the total is bounded so a hostile cookie header cannot make us parse megabytes.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from .config import ClaimsConfig

# Browsers keep ~4096 bytes per cookie including name and attributes.
CHUNK_BYTES = 3800
MAX_CHUNKS = 8
SESSION_MAX_AGE_SECONDS = 14 * 24 * 3600
LOGIN_MAX_AGE_SECONDS = 600


@dataclass(frozen=True)
class CookieNames:
    access: str
    id_token: str
    refresh: str
    login: str


def cookie_names(config: ClaimsConfig) -> CookieNames:
    return _cookie_names(config.cookie_prefix, config.cookie_secure)


@functools.cache
def _cookie_names(base: str, secure: bool) -> CookieNames:
    # RFC 6265bis §4.1.3.2: `__Host-` binds a Secure cookie to this host, path /, no Domain.
    prefix = f"__Host-{base}" if secure else base
    return CookieNames(
        access=prefix + "at", id_token=prefix + "idt", refresh=prefix + "rt", login=prefix + "login"
    )


# -- the refresh cookie: sealed to the session it was issued to (DESIGN §6) ----------------

REFRESH_COOKIE_VERSION = "r1."
# AES-GCM-SIV (RFC 8452) under a fixed nonce is deterministic encryption: one binding always
# seals to one cookie value, so the concurrent requests of a rotation all set the same bytes.
# It reveals only that two cookies hold the same binding; nothing about their content.
SEAL_NONCE = bytes(12)


@dataclass(frozen=True)
class RefreshBinding:
    """A refresh token and the session it belongs to: presented only with an access token
    of the same `subject` (a cookie planted next to another user's token is inert)."""

    refresh_token: str
    subject: str
    session_id: str | None = None


@functools.lru_cache(maxsize=4)
def _refresh_cookie_aead(secret_key: str, info: bytes) -> AESGCMSIV:
    # HKDF (RFC 5869) from SECRET_KEY: rotating SECRET_KEY ends refreshes, never leaks them.
    # `info` (REFRESH_COOKIE_INFO) separates deployments that share a SECRET_KEY.
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info)
    return AESGCMSIV(hkdf.derive(secret_key.encode("utf-8", "surrogatepass")))


def seal_refresh_cookie(binding: RefreshBinding, info: bytes) -> str:
    """AES-GCM-SIV over the token and its `sub`/`sid`: unreadable and unforgeable without
    SECRET_KEY, so a random or foreign value never reaches the issuer."""
    plaintext = json.dumps(
        {"rt": binding.refresh_token, "sub": binding.subject, "sid": binding.session_id},
        separators=(",", ":"),
    ).encode()
    sealed = _refresh_cookie_aead(settings.SECRET_KEY, info).encrypt(SEAL_NONCE, plaintext, info)
    return REFRESH_COOKIE_VERSION + base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def open_refresh_cookie(value: str | None, info: bytes) -> RefreshBinding | None:
    """The binding a cookie of ours carries, or None (absent, foreign, tampered, old key)."""
    if not value or not value.startswith(REFRESH_COOKIE_VERSION):
        return None
    body = value[len(REFRESH_COOKIE_VERSION) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        plaintext = _refresh_cookie_aead(settings.SECRET_KEY, info).decrypt(SEAL_NONCE, raw, info)
        payload = json.loads(plaintext)
    except (InvalidTag, ValueError, binascii.Error):
        return None
    if not isinstance(payload, dict):
        return None
    token, subject, session_id = payload.get("rt"), payload.get("sub"), payload.get("sid")
    if not (isinstance(token, str) and token and isinstance(subject, str) and subject):
        return None
    return RefreshBinding(token, subject, session_id if isinstance(session_id, str) else None)


def read_refresh_cookie(cookies: Mapping[str, str], config: ClaimsConfig) -> RefreshBinding | None:
    return open_refresh_cookie(read_token_cookie(cookies, cookie_names(config).refresh), config.refresh_cookie_info)


def write_refresh_cookie(
    response: HttpResponse, request: HttpRequest, config: ClaimsConfig, binding: RefreshBinding
) -> None:
    sealed = seal_refresh_cookie(binding, config.refresh_cookie_info)
    write_token_cookie(response, request, config, cookie_names(config).refresh, sealed)


def set_cookie(
    response: HttpResponse, config: ClaimsConfig, name: str, value: str, max_age: int
) -> None:
    """Every cookie osapp sets goes through here: HttpOnly, SameSite=Lax, Secure unless local."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=config.cookie_secure,
        httponly=True,
        samesite="Lax",
    )


def delete_cookie(response: HttpResponse, name: str) -> None:
    response.delete_cookie(name, path="/", samesite="Lax")


def read_token_cookie(cookies: Mapping[str, str], name: str) -> str | None:
    """The token stored under `name`, whole or reassembled from chunks; None if absent."""
    value = cookies.get(name)
    if value:
        return value
    parts = []
    for index in range(MAX_CHUNKS):
        part = cookies.get(f"{name}.{index}")
        if not part:
            break
        parts.append(part)
    return "".join(parts) or None


def write_token_cookie(
    response: HttpResponse,
    request: HttpRequest,
    config: ClaimsConfig,
    name: str,
    value: str,
    max_age: int = SESSION_MAX_AGE_SECONDS,
) -> None:
    """Set `name` to `value`, chunked when needed, and delete leftovers of the other layout."""
    if len(value) > CHUNK_BYTES * MAX_CHUNKS:
        raise ValueError(f"token of {len(value)} bytes does not fit in {MAX_CHUNKS} cookies")
    if len(value) <= CHUNK_BYTES:
        chunks = [value]
        set_cookie(response, config, name, value, max_age)
    else:
        chunks = [value[i : i + CHUNK_BYTES] for i in range(0, len(value), CHUNK_BYTES)]
        for index, chunk in enumerate(chunks):
            set_cookie(response, config, f"{name}.{index}", chunk, max_age)
        if name in request.COOKIES:
            delete_cookie(response, name)
    first_stale = 0 if len(chunks) == 1 else len(chunks)
    for index in range(first_stale, MAX_CHUNKS):
        if f"{name}.{index}" in request.COOKIES:
            delete_cookie(response, f"{name}.{index}")


def clear_token_cookies(response: HttpResponse, request: HttpRequest, config: ClaimsConfig) -> None:
    names = cookie_names(config)
    for name in (names.access, names.id_token, names.refresh):
        delete_cookie(response, name)
        for index in range(MAX_CHUNKS):
            if f"{name}.{index}" in request.COOKIES:
                delete_cookie(response, f"{name}.{index}")
