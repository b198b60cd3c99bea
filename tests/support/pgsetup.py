"""`python -m tests.support.pgsetup URL`: make sure the PostgreSQL database in URL exists.

Exit 0 when it exists (or was created), 3 when the server cannot be reached.
"""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

import psycopg
from psycopg import sql


def main(url: str) -> int:
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                print(f"created PostgreSQL database {name}")
    except psycopg.OperationalError as exc:
        print(f"PostgreSQL not reachable at {parts.hostname}:{parts.port}: {exc}".strip(), file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
