"""A real development issuer and a real gunicorn (2 uvicorn workers), once per test session."""

from __future__ import annotations

import pytest
import redis

from tests.support.issuer import IssuerProcess, free_port
from tests.support.osapp_server import OsappServer
from tests.support.redis_db import require_redis


@pytest.fixture(scope="session")
def osapp_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def issuer(tmp_path_factory, osapp_port):
    process = IssuerProcess.start(
        tmp_path_factory.mktemp("issuer"),
        redirect_uris=[f"http://127.0.0.1:{osapp_port}/auth/callback"],
        post_logout_redirect_uris=[f"http://127.0.0.1:{osapp_port}/"],
    )
    yield process
    process.stop()


@pytest.fixture(scope="session")
def osapp(tmp_path_factory, issuer, osapp_port):
    server = OsappServer.start(issuer.url, tmp_path_factory.mktemp("osapp"), workers=2, port=osapp_port)
    yield server
    server.stop()


class System:
    """One issuer and one or more osapp instances started for a scenario (see `start_system`)."""

    def __init__(self, issuer: IssuerProcess, apps: list[OsappServer], issuer_options: dict) -> None:
        self.issuer = issuer
        self.apps = apps
        self._issuer_options = issuer_options

    def restart_issuer(self, *, rotate_key: bool = False) -> None:
        """Stop the issuer and start it again on the same port and state (a deploy)."""
        self.issuer.stop()
        self.issuer = IssuerProcess.start(
            self.issuer.state_dir,
            self.issuer.port,
            extra_args=["--rotate-key"] if rotate_key else [],
            **self._issuer_options,
        )

    @property
    def app(self) -> OsappServer:
        return self.apps[0]

    def set_fault(self, mode: str, seconds: float = 0, grant_type: str = "refresh_token") -> None:
        import httpx

        response = httpx.put(
            self.issuer.url + "/_faults", json={"grant_type": grant_type, "mode": mode, "seconds": seconds}
        )
        response.raise_for_status()

    def refresh_grants(self) -> int:
        return self.issuer.token_grants("refresh_token")


@pytest.fixture
def start_system(tmp_path_factory):
    """Start an issuer (with fault injection) and `instances` osapp servers for one test."""
    started: list = []

    def start(*, access_token_ttl: int, instances: int = 1, workers: int = 4, env: dict | None = None,
              per_instance_env: list[dict] | None = None, sign_in_ttl: int | None = None,
              push_to: list[int] | None = None) -> System:
        """`sign_in_ttl`: the lifetime of the access tokens sign-in issues (refreshed ones get
        `access_token_ttl`), so a test reaches the refresh window a second after signing in.
        `push_to`: the instances (indices) the issuer pushes events to; default all."""
        ports = [free_port() for _ in range(instances)]
        pushed_ports = [ports[i] for i in (push_to if push_to is not None else range(instances))]
        issuer_options = {
            "access_token_ttl": access_token_ttl,
            "redirect_uris": [f"http://127.0.0.1:{port}/auth/callback" for port in ports],
            "post_logout_redirect_uris": [f"http://127.0.0.1:{port}/" for port in ports],
            "env": {
                "ISSUER_ENABLE_FAULTS": "1",
                # Pushed events (DESIGN §12) go to every instance's receivers.
                "ISSUER_BACKCHANNEL_LOGOUT_URIS": " ".join(
                    f"http://127.0.0.1:{port}/auth/backchannel-logout" for port in pushed_ports),
                "ISSUER_SECURITY_EVENT_URIS": " ".join(
                    f"http://127.0.0.1:{port}/auth/security-events" for port in pushed_ports),
            },
        }
        issuer = IssuerProcess.start(tmp_path_factory.mktemp("issuer"), **issuer_options)
        system = System(issuer, [], issuer_options)
        started.append(system)
        if sign_in_ttl is not None:
            system.set_fault("ttl", sign_in_ttl, grant_type="authorization_code")
        for index, port in enumerate(ports):
            app_env = {**(env or {}), **((per_instance_env or [{}] * instances)[index])}
            app = OsappServer.start(
                issuer.url, tmp_path_factory.mktemp("osapp"), workers=workers, port=port, env=app_env
            )
            started.append(app)
            system.apps.append(app)
        return system

    yield start
    for item in reversed(started):
        if isinstance(item, System):
            item.issuer.stop()
        else:
            item.stop()


TEST_REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture
def redis_url():
    """An empty Redis database for one test; in CI a missing Redis fails instead of skipping."""
    yield require_redis(TEST_REDIS_URL, flush=True)
    redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1).flushdb()
