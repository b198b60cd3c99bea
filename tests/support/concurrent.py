"""Concurrent HTTP against real servers: the same cookies from many connections at once."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
import jwt

SESSION_COOKIES = ("osapp_at", "osapp_idt", "osapp_rt")


@dataclass
class Answer:
    status: int
    body: str
    set_cookies: dict[str, str]
    location: str | None
    elapsed: float
    error: str | None = None


def session_cookies(client: httpx.Client) -> dict[str, str]:
    return {c.name: c.value for c in client.cookies.jar if c.name in SESSION_COOKIES}


def access_claims(cookies: Mapping[str, str]) -> dict:
    """The claims of the session's access token (read, not verified: the server verifies)."""
    return jwt.decode(cookies["osapp_at"], options={"verify_signature": False})


def access_exp(cookies: Mapping[str, str]) -> float:
    return float(access_claims(cookies)["exp"])


def sleep_until(deadline: float) -> None:
    """Wait for a wall-clock deadline (a token's `exp`, say), not for a guessed duration."""
    time.sleep(max(0.0, deadline - time.time()))


def cookie_header(cookies: Mapping[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def parse_set_cookies(response: httpx.Response) -> dict[str, str]:
    found = {}
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        found[name.strip()] = rest.split(";", 1)[0]
    return found


async def _one(client: httpx.AsyncClient, url: str, cookies: Mapping[str, str]) -> Answer:
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        response = await client.get(url, headers={"Cookie": cookie_header(cookies)})
    except httpx.HTTPError as exc:
        return Answer(0, "", {}, None, loop.time() - started, error=type(exc).__name__)
    return Answer(
        response.status_code,
        response.text,
        parse_set_cookies(response),
        response.headers.get("location"),
        loop.time() - started,
    )


async def _fire(urls: list[str], cookies: Mapping[str, str], timeout: float) -> list[Answer]:
    limits = httpx.Limits(max_connections=len(urls), max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False) as client:
        return await asyncio.gather(*(_one(client, url, cookies) for url in urls))


def fire(urls: list[str], cookies: Mapping[str, str], timeout: float = 60) -> list[Answer]:
    """GET every URL at once (one connection each) with the same Cookie header."""
    return asyncio.run(_fire(urls, cookies, timeout))


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample (0 when absent)."""
    label_text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(f"{name}{{{label_text}}}" if labels else name) + r" ([0-9.e+-]+)"
    match = re.search(r"^" + pattern + r"$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0
