"""Bench only: "sign in" to the server-side-session design — store the claims in a new session.

    DJANGO_SETTINGS_MODULE=bench.settings_dbsession python -m bench.make_session < claims.json

Prints the session key (the `sessionid` cookie's value).
"""

import json
import sys

import django


def main() -> None:
    django.setup()
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session["claims"] = json.load(sys.stdin)
    session.set_expiry(3600 * 24)
    session.save()
    print(session.session_key)


if __name__ == "__main__":
    main()
