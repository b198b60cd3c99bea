"""`manage.py authstatus [--verify]`: what the claims component runs on, and whether it holds.

Prints the issuer, the baked JWKS (path, age, kids), the coordination backend and its health.
`--verify` also fetches the issuer's live JWKS and compares kids with the baked set: any
difference is drift (a rotation not yet baked, or a retired key still baked) and exits 1.
Exit codes: 0 healthy, 1 drift or an unhealthy part, 2 the issuer could not be asked.
"""

from __future__ import annotations

import time
from typing import Any

from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandError

from osapp.claims.config import load_config
from osapp.claims.errors import IssuerError
from osapp.claims.keys import JwksError, parse_jwks, read_jwks_file
from osapp.claims.oidc import IssuerClient
from osapp.claims.refresh import BackendUnavailable, build_backend
from osapp.claims.revocation import Scope
from osapp.claims.runtime import build_revocation_log


def _age(seconds: float) -> str:
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h {minutes}m" if days else f"{hours}h {minutes}m"


class Command(BaseCommand):
    help = "Show the issuer, baked JWKS and coordination backend; --verify compares kids with the issuer."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--verify", action="store_true", help="compare baked kids with the issuer's live JWKS")

    def handle(self, *args: Any, **options: Any) -> None:
        config = load_config()
        if config.errors:
            raise CommandError(config.errors[0].message)
        healthy = True
        self.stdout.write(f"issuer:       {config.issuer}")

        baked: set[str] | None = None
        if config.jwks_inline:
            try:
                baked = set(parse_jwks(config.jwks_inline))
                self.stdout.write(f"baked JWKS:   {config.name_of('JWKS')} (inline), kids: {', '.join(sorted(baked))}")
            except JwksError as exc:
                healthy = False
                self.stdout.write(f"baked JWKS:   {config.name_of('JWKS')} invalid: {exc}")
        elif config.jwks_file is not None and config.jwks_file.exists():
            try:
                baked = set(read_jwks_file(config.jwks_file))
                age = _age(time.time() - config.jwks_file.stat().st_mtime)
                self.stdout.write(
                    f"baked JWKS:   {config.jwks_file} (baked {age} ago), kids: {', '.join(sorted(baked))}"
                )
            except JwksError as exc:
                healthy = False
                self.stdout.write(f"baked JWKS:   INVALID {exc}")
        else:
            self.stdout.write(f"baked JWKS:   none at {config.jwks_file} (keys fetched at runtime)")

        backend = build_backend(config)
        try:
            async_to_sync(backend.ping)()
            self.stdout.write(f"coordinator:  {backend.name} ok")
        except BackendUnavailable as exc:
            healthy = False
            self.stdout.write(f"coordinator:  {backend.name} FAILING: {exc}")

        log = build_revocation_log(config)
        try:
            now = time.time()
            records = [r for r in log.records() if r.expires_at > now]
            claims = sum(1 for r in records if r.scope is Scope.CLAIMS)
            newest = max((r.accepted_at for r in records if r.accepted_at is not None), default=None)
            since = f", newest accepted {_age(now - newest)} ago" if newest is not None else ""
            self.stdout.write(
                f"revocations:  {len(records) - claims} live, {claims} claim changes pending ({log.name} log{since})"
            )
        except BackendUnavailable as exc:
            healthy = False
            self.stdout.write(f"revocations:  {log.name} FAILING: {exc}")

        if options["verify"]:
            try:
                live = set(parse_jwks(IssuerClient(config).fetch_jwks()))
            except (IssuerError, JwksError) as exc:
                self.stdout.write(f"live JWKS:    unavailable: {exc}")
                raise SystemExit(2) from None
            self.stdout.write(f"live JWKS:    kids: {', '.join(sorted(live))}")
            if baked is None or baked != live:
                healthy = False
                unbaked = sorted(live - (baked or set()))
                retired = sorted((baked or set()) - live)
                if unbaked:
                    self.stdout.write(f"DRIFT:        issuer signs with kids not baked: {', '.join(unbaked)}"
                                      " → run `python manage.py bake_jwks`")
                if retired:
                    self.stdout.write(f"DRIFT:        baked kids the issuer no longer publishes: {', '.join(retired)}")
            else:
                self.stdout.write("drift:        none")
        raise SystemExit(0 if healthy else 1)
