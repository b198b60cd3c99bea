"""``python -m osapp.issuer``: prepare the state directory, then serve the issuer.

On start: create the state directory, generate the signing key on first start, migrate the
database, seed the demo data, configure the OAuth client from the environment, then serve.
When listening it prints exactly one line to stdout, ``osapp-issuer ready at <URL>``.
SIGTERM stops it gracefully.

Flags override the environment: ``--host`` (ISSUER_HOST, 127.0.0.1), ``--port`` (ISSUER_PORT,
8001), ``--state-dir`` (ISSUER_STATE_DIR, ./var/issuer). ISSUER_URL defaults to
``http://<host>:<port>``; the other variables are described in ``config.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from osapp.issuer.config import DEFAULT_HOST, DEFAULT_PORT, IssuerConfig, IssuerConfigError
from osapp.issuer.keys import ensure_signing_key, rotate_signing_key
from osapp.issuer.server import serve

SETTINGS_MODULE = "osapp.issuer.settings"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m osapp.issuer", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default=os.environ.get("ISSUER_HOST", DEFAULT_HOST))
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("ISSUER_PORT", DEFAULT_PORT))
    )
    parser.add_argument("--state-dir", default=os.environ.get("ISSUER_STATE_DIR", "./var/issuer"))
    parser.add_argument(
        "--rotate-key",
        action="store_true",
        help="retire the signing key (it stays in the JWKS) and sign with a new one from now on",
    )
    return parser.parse_args(argv)


def url_host(host: str) -> str:
    """The host to put in the default ISSUER_URL for a bind address."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def configure_environment(args: argparse.Namespace) -> None:
    os.environ["ISSUER_STATE_DIR"] = str(Path(args.state_dir).resolve())
    os.environ.setdefault("ISSUER_URL", f"http://{url_host(args.host)}:{args.port}")
    # Forced, not defaulted: a parent process (pytest-django, osapp) may export its own.
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE


def prepare(config: IssuerConfig, *, rotate_key: bool = False) -> None:
    """Everything before serving; Django is set up here, after the key exists."""
    config.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if rotate_key:
        rotate_signing_key(config.state_dir)
    ensure_signing_key(config.state_dir)

    import django
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)

    from osapp.issuer.seed import ensure_client, seed_demo_data

    seed_demo_data()
    ensure_client(config)
    # gunicorn forks the worker after this: no SQLite handle may cross the fork.
    connections.close_all()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_environment(args)
    try:
        config = IssuerConfig.from_environ()
    except IssuerConfigError as error:
        print(f"osapp-issuer: {error}", file=sys.stderr)
        return 2
    prepare(config, rotate_key=args.rotate_key)

    def announce() -> None:
        print(f"osapp-issuer ready at http://{url_host(args.host)}:{args.port}", flush=True)

    serve(args.host, args.port, on_ready=announce)
    return 0


if __name__ == "__main__":
    sys.exit(main())
