"""Start the real stack (development issuer + osapp under gunicorn) and read what it counts.

Reuses the test harness (tests/support): `IssuerProcess` runs `python -m osapp.issuer` on a
free loopback port, `OsappServer` runs the deploy steps (bake_jwks, migrate) and gunicorn with
uvicorn workers. Everything binds 127.0.0.1 and stops when the `Stack` is closed.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.issuer import IssuerProcess, free_port
from tests.support.osapp_server import OsappServer

CLK_TCK = os.sysconf("SC_CLK_TCK")
METRIC_LINE = re.compile(r'^osapp_issuer_calls_total\{endpoint="([^"]+)"\} ([0-9.e+-]+)$', re.M)


def default_refresh_skew(ttl_seconds: int) -> int:
    """A quarter of the token lifetime (at least 5 s): refreshes well before expiry, while
    each token still serves three quarters of its life."""
    return max(5, ttl_seconds // 4)


@dataclass
class Stack:
    """One issuer and the osapp servers started against it (all on 127.0.0.1)."""

    issuer: IssuerProcess
    apps: dict[str, OsappServer] = field(default_factory=dict)
    root: Path | None = None

    def add_app(self, name: str, *, workers: int, port: int | None = None,
                env: Mapping[str, str] | None = None) -> OsappServer:
        assert self.root is not None
        state = self.root / f"osapp-{name}"
        app = OsappServer.start(self.issuer.url, state, workers=workers, port=port, env=dict(env or {}))
        self.apps[name] = app
        return app

    def close(self) -> None:
        for app in reversed(list(self.apps.values())):
            with contextlib.suppress(Exception):
                app.stop()
        with contextlib.suppress(Exception):
            self.issuer.stop()


@contextlib.contextmanager
def issuer_stack(*, ttl: int, osapp_ports: list[int]) -> Iterator[Stack]:
    """An issuer whose client accepts callbacks on `osapp_ports`; stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="osapp-bench-") as tmp:
        root = Path(tmp)
        issuer = IssuerProcess.start(
            root / "issuer",
            access_token_ttl=ttl,
            redirect_uris=[f"http://127.0.0.1:{p}/auth/callback" for p in osapp_ports],
            post_logout_redirect_uris=[f"http://127.0.0.1:{p}/" for p in osapp_ports],
        )
        stack = Stack(issuer=issuer, root=root)
        try:
            yield stack
        finally:
            stack.close()


def issuer_calls_metric(osapp_url: str) -> Counter[str]:
    """osapp's own count of calls to the issuer, by endpoint, summed over workers (/metrics)."""
    text = httpx.get(osapp_url + "/metrics", timeout=30).text
    return Counter({name: int(float(value)) for name, value in METRIC_LINE.findall(text)})


def metric_total(osapp_url: str, name: str) -> Counter[str]:
    """Every labelled sample of one counter, keyed by its label text."""
    text = httpx.get(osapp_url + "/metrics", timeout=30).text
    found: Counter[str] = Counter()
    for labels, value in re.findall(rf"^{re.escape(name)}\{{([^}}]*)\}} ([0-9.e+-]+)$", text, re.M):
        found[labels] = int(float(value))
    return found


def issuer_endpoint(entry: Mapping) -> str:
    """Name an issuer request-log entry by the endpoint label osapp's metrics use."""
    method, path, grant = entry["method"], entry["path"], entry.get("grant_type")
    if path == "/token/" and method == "POST":
        return f"token.{grant}"
    if path.startswith("/.well-known/openid-configuration"):
        return "discovery"
    if "jwks" in path:
        return "jwks"
    if path.startswith("/revoke_token"):
        return "revocation"
    if path.startswith("/userinfo"):
        return "userinfo"
    # The browser's own steps of a sign-in: never made by osapp.
    if path.startswith(("/authorize", "/accounts/login")):
        return f"browser {method} {path}"
    return f"other {method} {path}"


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (from /proc; Linux)."""
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                stack.extend(int(c) for c in (task / "children").read_text().split())
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time consumed so far by these processes."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLK_TCK


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


__all__ = ["Stack", "issuer_stack", "free_port", "default_refresh_skew"]
