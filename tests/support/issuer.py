"""Run the development issuer in tests, and sign in against it like a browser would.

``IssuerProcess.start(...)`` spawns ``python -m osapp.issuer`` on a free loopback port with its
own state directory and waits until it serves discovery; ``authorization_code_login(...)``
walks the real authorization-code flow (PKCE S256, state, nonce, the login form and its CSRF
token) with httpx against the issuer alone and returns the token response.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_PREFIX = "osapp-issuer ready at "
DEFAULT_CLIENT_ID = "osapp"
DEFAULT_CLIENT_SECRET = "osapp-dev-secret"
DEFAULT_SCOPE = "openid profile email offline_access"


class IssuerStartError(RuntimeError):
    """The issuer process exited or did not become ready in time; carries its output."""


class LoginFlowError(AssertionError):
    """A step of the browser-like sign-in did not answer as the protocol says it must."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 at the time of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class IssuerProcess:
    """A running ``python -m osapp.issuer``; ``stop()`` (or ``with``) ends it."""

    state_dir: Path
    port: int
    process: subprocess.Popen[str]
    _output: list[str] = field(default_factory=list)
    _ready: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return "".join(self._output)

    @property
    def request_log(self) -> Path:
        return self.state_dir / "requests.log"

    @classmethod
    def start(
        cls,
        state_dir: Path,
        port: int | None = None,
        *,
        access_token_ttl: int | None = None,
        redirect_uris: list[str] | None = None,
        post_logout_redirect_uris: list[str] | None = None,
        env: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
        timeout: float = 30.0,
    ) -> IssuerProcess:
        """Spawn the issuer and wait until its discovery document answers."""
        port = port or free_port()
        environ = {k: v for k, v in os.environ.items() if not k.startswith("ISSUER_")}
        environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), environ.get("PYTHONPATH", "")) if p
        )
        if access_token_ttl is not None:
            environ["ISSUER_ACCESS_TOKEN_TTL"] = str(access_token_ttl)
        if redirect_uris is not None:
            environ["ISSUER_REDIRECT_URIS"] = " ".join(redirect_uris)
        if post_logout_redirect_uris is not None:
            environ["ISSUER_POST_LOGOUT_REDIRECT_URIS"] = " ".join(post_logout_redirect_uris)
        environ.update(env or {})
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "osapp.issuer",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--state-dir",
                str(state_dir),
                *extra_args,
            ],
            cwd=REPO_ROOT,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        issuer = cls(state_dir=Path(state_dir), port=port, process=process)
        threading.Thread(target=issuer._read_output, daemon=True).start()
        try:
            issuer._wait_until_ready(timeout)
        except IssuerStartError:
            issuer.stop()
            raise
        return issuer

    def _read_output(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._output.append(line)
            if line.startswith(READY_PREFIX):
                self._ready.set()

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self._fail("never printed its ready line")
        while True:
            try:
                if httpx.get(f"{self.url}/.well-known/openid-configuration").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self._fail("never served its discovery document")
            time.sleep(0.05)

    def _fail(self, what: str) -> None:
        time.sleep(0.2)  # let the reader thread catch the last lines
        raise IssuerStartError(
            f"osapp-issuer on port {self.port} {what} (exit code {self.process.poll()}).\n"
            f"--- output ---\n{self.output}"
        )

    def requests(self) -> list[dict[str, Any]]:
        """The request log's entries, oldest first."""
        if not self.request_log.exists():
            return []
        lines = self.request_log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line]

    def token_grants(self, grant_type: str, *, status: int | None = None) -> int:
        """How many token requests of ``grant_type`` (and ``status``, if given) were served."""
        return sum(
            1
            for entry in self.requests()
            if entry["method"] == "POST"
            and entry["path"] == "/token/"
            and entry["grant_type"] == grant_type
            and (status is None or entry["status"] == status)
        )

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then SIGKILL past ``timeout``; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@dataclass(frozen=True)
class AuthorizationCode:
    """What the authorization redirect delivered, with the PKCE verifier to redeem it."""

    code: str
    code_verifier: str
    nonce: str
    redirect_uri: str


def _pkce_pair() -> tuple[str, str]:
    # RFC 7636 §4.1-4.2: 43-128 unreserved characters; S256 challenge, base64url without padding.
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def discover(issuer_url: str) -> dict[str, Any]:
    response = httpx.get(f"{issuer_url}/.well-known/openid-configuration", timeout=10)
    response.raise_for_status()
    return dict(response.json())


def _location(response: httpx.Response, step: str) -> str:
    if response.status_code not in (301, 302, 303, 307, 308):
        raise LoginFlowError(f"{step}: expected a redirect, got {response.status_code}")
    return urljoin(str(response.request.url), response.headers["location"])


def obtain_authorization_code(
    issuer_url: str,
    username: str,
    password: str,
    client_id: str,
    redirect_uri: str,
    scope: str = DEFAULT_SCOPE,
) -> AuthorizationCode:
    """GET /authorize → login form → POST credentials → back to /authorize → the code.

    The redirect to ``redirect_uri`` is captured, not followed: only the issuer is contacted.
    """
    endpoints = discover(issuer_url)
    verifier, challenge = _pkce_pair()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        response = browser.get(
            endpoints["authorization_endpoint"],
            params={
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "scope": scope,
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        login_url = _location(response, "authorize (signed out)")
        form = browser.get(login_url)
        if form.status_code != 200:
            raise LoginFlowError(f"login form: expected 200, got {form.status_code}")
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
        if csrf is None:
            raise LoginFlowError("login form: no CSRF token in the page")
        next_url = parse_qs(urlsplit(login_url).query).get("next", [""])[0]
        response = browser.post(
            login_url,
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": csrf.group(1),
                "next": next_url,
            },
        )
        back_to_authorize = _location(response, "login POST (wrong password?)")
        response = browser.get(back_to_authorize)
        callback = _location(response, "authorize (signed in)")
    if not callback.startswith(redirect_uri):
        raise LoginFlowError(f"authorize redirected elsewhere than the redirect_uri: {callback}")
    query = parse_qs(urlsplit(callback).query)
    if "error" in query:
        raise LoginFlowError(f"authorize answered an error: {query['error'][0]}")
    if query.get("state") != [state]:
        raise LoginFlowError("authorize returned a different state")
    # RFC 9207 §2.4: the `iss` parameter must be the issuer we started from.
    if query.get("iss", [issuer_url]) != [issuer_url]:
        raise LoginFlowError(f"authorize returned a foreign iss: {query['iss']}")
    return AuthorizationCode(
        code=query["code"][0], code_verifier=verifier, nonce=nonce, redirect_uri=redirect_uri
    )


def token_request(
    issuer_url: str, form: Mapping[str, str], client_id: str, client_secret: str
) -> httpx.Response:
    """POST to the token endpoint with client_secret_basic (RFC 6749 §2.3.1)."""
    endpoint = discover(issuer_url)["token_endpoint"]
    return httpx.post(endpoint, data=dict(form), auth=(client_id, client_secret), timeout=10)


def exchange_code(
    issuer_url: str, grant: AuthorizationCode, client_id: str, client_secret: str
) -> dict[str, Any]:
    response = token_request(
        issuer_url,
        {
            "grant_type": "authorization_code",
            "code": grant.code,
            "redirect_uri": grant.redirect_uri,
            "code_verifier": grant.code_verifier,
        },
        client_id,
        client_secret,
    )
    if response.status_code != 200:
        raise LoginFlowError(f"code exchange: {response.status_code} {response.text}")
    return dict(response.json())


def refresh(
    issuer_url: str, refresh_token: str, client_id: str, client_secret: str
) -> httpx.Response:
    return token_request(
        issuer_url,
        {"grant_type": "refresh_token", "refresh_token": refresh_token},
        client_id,
        client_secret,
    )


def authorization_code_login(
    issuer_url: str,
    username: str,
    password: str,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    redirect_uri: str = "http://127.0.0.1:8000/auth/callback",
    scope: str = DEFAULT_SCOPE,
) -> dict[str, Any]:
    """Sign ``username`` in through the real flow; return the token response JSON."""
    grant = obtain_authorization_code(
        issuer_url, username, password, client_id, redirect_uri, scope
    )
    return exchange_code(issuer_url, grant, client_id, client_secret)
