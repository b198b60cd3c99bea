"""One in-process browser for the unit and security tests: Django's test client holding the
session cookies under the names the claims component uses (never spelled out here)."""

from __future__ import annotations

from django.test import Client


def cookie_client(
    access_token: str | None = None,
    *,
    refresh_cookie: str | None = None,
    enforce_csrf_checks: bool = False,
) -> Client:
    """A client sending `access_token` (and a refresh cookie) as the component's cookies."""
    from osapp.claims import get_runtime

    names = get_runtime().cookie_names
    client = Client(enforce_csrf_checks=enforce_csrf_checks)
    if access_token:
        client.cookies[names.access] = access_token
    if refresh_cookie:
        client.cookies[names.refresh] = refresh_cookie
    return client
