"""`manage.py bake_jwks`: fetch the issuer's JWKS at deploy time and write it atomically.

discovery → jwks_uri → validated (public signing keys only, each with a kid and a usable
algorithm) → temp file + fsync + rename onto the JWKS_FILE setting. Any failure is one line on stderr,
a non-zero exit, and the existing file left untouched.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from osapp.claims.config import load_config
from osapp.claims.errors import IssuerError
from osapp.claims.keys import JwksError, parse_jwks
from osapp.claims.oidc import IssuerClient


def write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


BAKING_SETTINGS = ("ISSUER", "JWKS_FILE", "STATE_DIR", "ISSUER_TIMEOUT", "METRIC_PREFIX")


class Command(BaseCommand):
    help = "Fetch the issuer's JWKS and write it to the JWKS_FILE setting (atomically)."
    # The checks would complain about the very file this command writes.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--output", help="write here instead of the JWKS_FILE setting")

    def handle(self, *args: Any, **options: Any) -> None:
        config = load_config()
        # Baking needs the issuer and where to write, not the client's credentials (a deploy
        # may bake before the secret is in place).
        needed = [error for error in config.errors if error.key in BAKING_SETTINGS]
        if needed:
            raise CommandError(needed[0].message)
        target = Path(options["output"]) if options["output"] else config.jwks_file
        if target is None:
            raise CommandError(
                f"{config.name_of('JWKS_FILE')} is not set ({config.name_of('JWKS')} is inline; nothing to bake)"
            )
        try:
            document = IssuerClient(config).fetch_jwks()
        except IssuerError as exc:
            raise CommandError(f"issuer {config.issuer} unreachable or invalid: {exc}") from None
        try:
            keys = parse_jwks(document)
        except JwksError as exc:
            raise CommandError(f"JWKS from {config.issuer} refused: {exc}") from None
        public = {"keys": [jwk for jwk in document["keys"] if jwk.get("kid") in keys]}
        write_atomically(target, (json.dumps(public, indent=2, sort_keys=True) + "\n").encode())
        self.stdout.write(f"baked {len(keys)} key(s) [{', '.join(keys)}] from {config.issuer} to {target}")
