"""The session cookies: names, attributes (from one function) and chunked reassembly.

A token too large for one cookie is split into `<name>.0`, `<name>.1`, … and joined on read;
the total is bounded so a hostile cookie header cannot make us parse megabytes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

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
    return _cookie_names(config.cookie_secure)


@functools.cache
def _cookie_names(secure: bool) -> CookieNames:
    # RFC 6265bis §4.1.3.2: `__Host-` binds a Secure cookie to this host, path /, no Domain.
    prefix = "__Host-osapp_" if secure else "osapp_"
    return CookieNames(
        access=prefix + "at", id_token=prefix + "idt", refresh=prefix + "rt", login=prefix + "login"
    )


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
