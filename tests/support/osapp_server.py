"""Run osapp as deployed — bake_jwks, migrate, gunicorn with uvicorn workers — for tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.issuer import DEFAULT_CLIENT_SECRET, REPO_ROOT, free_port

_LOADED = re.compile(r"osapp worker (\d+) loaded the app")


class OsappStartError(RuntimeError):
    """A deploy step failed or gunicorn did not become ready; carries the output."""


def osapp_env(issuer_url: str, state_dir: Path, port: int, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of one osapp instance (its own state dir), as an operator would set it."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OSAPP_", "ISSUER_"))}
    environ.update(
        {
            "PYTHONPATH": str(REPO_ROOT),
            "OSAPP_ISSUER": issuer_url,
            # The development issuer's client (tests/support/issuer.py registers it).
            "OSAPP_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
            "OSAPP_BASE_URL": f"http://127.0.0.1:{port}",
            "OSAPP_STATE_DIR": str(state_dir),
            "OSAPP_JWKS_FILE": str(state_dir / "jwks.json"),
            "OSAPP_COOKIE_SECURE": "0",
            "DJANGO_SETTINGS_MODULE": "osapp.settings",
        }
    )
    environ.update(extra or {})
    return environ


def manage(env: Mapping[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=dict(env), capture_output=True, text=True, timeout=120
    )
    if check and result.returncode != 0:
        raise OsappStartError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@dataclass
class OsappServer:
    port: int
    state_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[str]
    _output: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return "".join(self._output)

    @classmethod
    def start(
        cls,
        issuer_url: str,
        state_dir: Path,
        *,
        workers: int = 2,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> OsappServer:
        port = port or free_port()
        state_dir.mkdir(parents=True, exist_ok=True)
        environ = osapp_env(issuer_url, state_dir, port, env)
        environ["WEB_CONCURRENCY"] = str(workers)
        manage(environ, "bake_jwks")
        manage(environ, "migrate", "--noinput")
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}"],
            cwd=REPO_ROOT,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        server = cls(port=port, state_dir=state_dir, env=environ, process=process)
        threading.Thread(target=server._read_output, daemon=True).start()
        server._wait_until_ready(timeout, workers)
        return server

    def _read_output(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._output.append(line)

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def loaded_workers(self) -> set[int]:
        """Workers that have loaded the app (gunicorn.conf.py's post_worker_init line)."""
        return {int(pid) for pid in _LOADED.findall(self.output)}

    def _wait_until_ready(self, timeout: float, workers: int) -> None:
        # Ready means every worker can accept: a worker that is forked but still importing
        # Django leaves all connections to the others, which tests about spreading rely on.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise OsappStartError(f"gunicorn exited with {self.process.returncode}:\n{self.output}")
            try:
                if (len(self.loaded_workers()) >= workers
                        and httpx.get(self.url + "/healthz", timeout=2).status_code == 200):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise OsappStartError(f"gunicorn not ready after {timeout}s:\n{self.output}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
