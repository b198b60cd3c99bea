"""X-Forwarded-Proto is believed only from a configured proxy (issue 9.6).

Through gunicorn's uvicorn worker: the request's scheme shows in the redirect_uri osapp builds
when OSAPP_BASE_URL is unset. Loopback is the proxy by default (FORWARDED_ALLOW_IPS).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

# osapp's database is only migrated here: the PostgreSQL pass does not repeat these.
pytestmark = [pytest.mark.integration, pytest.mark.no_osapp_db]


@pytest.mark.parametrize(("trusted_proxies", "scheme"), [("192.0.2.10", "http"), ("127.0.0.1", "https")])
def test_x_forwarded_proto_is_trusted_only_from_a_configured_proxy(start_system, trusted_proxies, scheme):
    system = start_system(access_token_ttl=300, workers=1, env={"OSAPP_BASE_URL": "", "OSAPP_COOKIE_SECURE": "1",
                                          "FORWARDED_ALLOW_IPS": trusted_proxies})
    response = httpx.get(system.app.url + "/auth/login", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 302
    redirect_uri = parse_qs(urlsplit(response.headers["location"]).query)["redirect_uri"][0]
    print(f"\nFORWARDED_ALLOW_IPS={trusted_proxies}, client 127.0.0.1 says https: redirect_uri={redirect_uri}")
    assert redirect_uri == f"{scheme}://{urlsplit(system.app.url).netloc}/auth/callback"
