"""`python -m osapp.devserver`: the whole system on embedded defaults, in one command.

Starts the development issuer, bakes its JWKS, migrates SQLite and serves osapp with gunicorn —
exactly the deploy steps of the README, wrapped around a local issuer — then prints the URL and
the demo logins. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_LOGINS = (
    ("alice", "alice-pass", "Acme Corp"),
    ("bob", "bob-pass", "Acme Corp, Globex Corporation"),
    ("carol", "carol-pass", "Acme Corp, Globex Corporation, Initech"),
)


def _wait_for(url: str, process: subprocess.Popen, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{what} exited with status {process.returncode}; see its output above")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit(f"{what} did not answer {url} within {timeout:.0f}s")


DEVELOPMENT_CLIENT_SECRET = "osapp-dev-secret"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("OSAPP_DEV_PORT", "8000")))
    parser.add_argument("--issuer-port", type=int, default=int(os.environ.get("OSAPP_DEV_ISSUER_PORT", "8001")))
    parser.add_argument("--state-dir", default=os.environ.get("OSAPP_STATE_DIR", "var"))
    args = parser.parse_args()

    state_dir = Path(args.state_dir).resolve()
    issuer_url = f"http://127.0.0.1:{args.issuer_port}"
    app_origins = [f"http://127.0.0.1:{args.port}", f"http://localhost:{args.port}"]
    # The development run's own client secret, shared by both sides (osapp has no default).
    client_secret = os.environ.get("OSAPP_CLIENT_SECRET") or DEVELOPMENT_CLIENT_SECRET
    env = {
        **os.environ,
        "OSAPP_CLIENT_SECRET": client_secret,
        "ISSUER_CLIENT_SECRET": client_secret,
        "PYTHONPATH": str(REPO_ROOT),
        "ISSUER_REDIRECT_URIS": " ".join(f"{origin}/auth/callback" for origin in app_origins),
        # Revocations and claim changes pushed to osapp (DESIGN §12).
        "ISSUER_BACKCHANNEL_LOGOUT_URIS": f"{app_origins[0]}/auth/backchannel-logout",
        "ISSUER_SECURITY_EVENT_URIS": f"{app_origins[0]}/auth/security-events",
        "ISSUER_POST_LOGOUT_REDIRECT_URIS": " ".join(f"{origin}/" for origin in app_origins),
        "OSAPP_ISSUER": issuer_url,
        "OSAPP_STATE_DIR": str(state_dir),
        "OSAPP_JWKS_FILE": str(state_dir / "jwks.json"),
        # Plain http on loopback: Secure cookies would not be sent back by every client.
        "OSAPP_COOKIE_SECURE": os.environ.get("OSAPP_COOKIE_SECURE", "0"),
    }
    processes: list[subprocess.Popen] = []

    def stop(*_: object) -> None:
        for process in reversed(processes):
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    issuer = subprocess.Popen(
        [sys.executable, "-m", "osapp.issuer", "--port", str(args.issuer_port),
         "--state-dir", str(state_dir / "issuer")],
        cwd=REPO_ROOT, env=env,
    )
    processes.append(issuer)
    _wait_for(f"{issuer_url}/.well-known/openid-configuration", issuer, "the development issuer")

    for step in (["bake_jwks"], ["migrate", "--noinput"]):
        if subprocess.run([sys.executable, "manage.py", *step], cwd=REPO_ROOT, env=env).returncode != 0:
            stop()
            sys.exit(f"manage.py {step[0]} failed")

    app = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{args.port}"],
        cwd=REPO_ROOT, env=env,
    )
    processes.append(app)
    _wait_for(f"{app_origins[0]}/healthz", app, "gunicorn")

    print(f"\nosapp is running at {app_origins[0]}/  (issuer at {issuer_url})", flush=True)
    print("Demo logins (user / password — organizations):", flush=True)
    for username, password, orgs in DEMO_LOGINS:
        print(f"  {username:6} / {password:11} — {orgs}", flush=True)
    print("Press Ctrl-C to stop.\n", flush=True)
    while all(process.poll() is None for process in processes):
        time.sleep(0.5)
    stop()


if __name__ == "__main__":
    main()
