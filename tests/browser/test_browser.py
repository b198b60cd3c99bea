"""A person in a real browser: sign in, watch a project live through a token rotation, sign out."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `chromium` fixture skips, or fails under CI=true, saying why
    expect = None

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PROJECT_PATH = "/o/globex/p/billing/"
EVENTS_API = "/api/orgs/globex/projects/billing/events"


def sign_in_as_bob(page, app_url: str) -> None:
    """Through the real pages: the app's Sign in link, the issuer's form, back signed in."""
    page.goto(app_url + "/")
    page.locator("header.topbar").get_by_role("link", name="Sign in").click()
    page.wait_for_url("**/accounts/login/**")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "bob-pass")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(app_url + "/")
    expect(page.get_by_test_id("signed-in-name")).to_have_text("Bob Brown")


def open_billing(page, app_url: str) -> None:
    page.get_by_role("link", name="Globex Corporation").click()
    page.wait_for_url(app_url + "/o/globex/")
    page.get_by_role("link", name="Billing").click()
    page.wait_for_url(app_url + PROJECT_PATH)
    expect(page.get_by_role("heading", level=1)).to_have_text("Billing")


def token_cookie(context, name: str) -> str | None:
    """A token cookie's value, whole or reassembled from `<name>.0`, `<name>.1`, … chunks."""
    jar = {c["name"]: c["value"] for c in context.cookies()}
    if jar.get(name):
        return jar[name]
    chunks = []
    while jar.get(f"{name}.{len(chunks)}"):
        chunks.append(jar[f"{name}.{len(chunks)}"])
    return "".join(chunks) or None


def append_event(app_url: str, access_token: str, body: str) -> dict:
    response = httpx.post(
        app_url + EVENTS_API,
        json={"body": body},
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def expect_live_event(page, event: dict) -> None:
    item = page.locator(f'#events li.event[data-event-id="{event["id"]}"]')
    expect(item).to_be_visible(timeout=10_000)
    expect(item.locator("p")).to_have_text(event["body"])
    expect(item.locator(".author")).to_have_text("Bob Brown")


def test_signed_in_person_sees_an_event_appended_through_the_api_live(page, context, page_problems,
                                                                       osapp, shots_dir):
    sign_in_as_bob(page, osapp.url)
    open_billing(page, osapp.url)
    expect(page.locator("#live-status")).to_have_text("live")
    page.evaluate("window.__marker = 1")

    event = append_event(osapp.url, token_cookie(context, "osapp_at"), f"deployed {uuid.uuid4().hex[:8]}")
    expect_live_event(page, event)

    assert page.evaluate("window.__marker") == 1, "the page was reloaded"
    shot = shots_dir / "project-live-event.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"\nscreenshot: {shot}")
    assert page_problems.errors == []


def test_socket_closed_at_token_expiry_reconnects_after_an_http_refresh_without_reload(
        page, context, page_problems, start_system, shots_dir):
    ttl = 12
    # Sign-in tokens of 8 s (renewed ones 12 s), renewed in their last 5 s.
    system = start_system(access_token_ttl=ttl, sign_in_ttl=8, workers=2,
                          env={"OSAPP_REFRESH_SKEW": "5", "OSAPP_CLOCK_LEEWAY": "0"})
    app = system.app
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(str(payload))))
    navigations: list[str] = []

    sign_in_as_bob(page, app.url)
    open_billing(page, app.url)
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    expect(page.locator("#live-status")).to_have_text("live")
    page.evaluate("window.__marker = 1")
    first_token = token_cookie(context, "osapp_at")
    assert first_token
    opened_at = time.monotonic()

    # At the access token's exp the server sends tokenExpired and closes 4401; the page script
    # fetches /auth/session (the middleware refreshes, new cookies) and opens a second socket.
    page.wait_for_function("() => window.__sockets.closes.includes(4401)", timeout=(ttl + 10) * 1000)
    closed_after = time.monotonic() - opened_at
    page.wait_for_function("() => window.__sockets.opened >= 2", timeout=15_000)
    expect(page.locator("#live-status")).to_have_text("live")
    print(f"\nsocket closed 4401 {closed_after:.1f}s after the page went live; frames={frames}")

    assert any('"tokenExpired"' in frame for frame in frames), frames
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"
    assert navigations == [], f"the page navigated: {navigations}"
    assert page.url == app.url + PROJECT_PATH

    new_token = token_cookie(context, "osapp_at")
    assert new_token and new_token != first_token, "the access-token cookie was not renewed"
    event = append_event(app.url, new_token, f"after rotation {uuid.uuid4().hex[:8]}")
    expect_live_event(page, event)
    page.screenshot(path=str(shots_dir / "project-live-event-after-rotation.png"), full_page=True)

    grants = system.issuer.token_grants("refresh_token")
    refused = system.issuer.token_grants("refresh_token", status=400)
    print(f"refresh grants at the issuer: {grants}, refused: {refused}; "
          f"socket closes seen by the page: {page.evaluate('window.__sockets.closes')}")
    assert grants >= 1
    assert refused == 0
    assert page_problems.errors == []


def test_sign_out_lands_on_the_landing_page_and_ends_the_session(page, context, page_problems, osapp):
    sign_in_as_bob(page, osapp.url)
    assert token_cookie(context, "osapp_at") and token_cookie(context, "osapp_rt")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(osapp.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your organizations and projects, in one place.")
    expect(page.locator("header.topbar").get_by_role("link", name="Sign in")).to_be_visible()
    expect(page.get_by_test_id("signed-in-name")).to_have_count(0)

    remaining = sorted(c["name"] for c in context.cookies() if c["name"].startswith(("osapp_at", "osapp_rt")))
    assert remaining == []

    # Signed out at the issuer too: the app sends us to the issuer's login form, not back in.
    page.goto(osapp.url + "/o/globex/")
    page.wait_for_url("**/accounts/login/**")
    expect(page.locator("input[name=username]")).to_be_visible()
    assert page_problems.errors == []


def test_retry_button_is_hidden_while_live(page, page_problems, osapp):
    sign_in_as_bob(page, osapp.url)
    page.goto(osapp.url + PROJECT_PATH)
    expect(page.locator("#live-status")).to_have_text("live")
    assert page.locator("#live-retry").get_attribute("hidden") is not None
    expect(page.locator("#live-retry")).to_be_hidden(timeout=2_000)
    assert page_problems.errors == []


def test_page_gives_up_after_three_rotations_a_minute_and_retry_goes_live_again(
        page, page_problems, osapp):
    # The page script's side of DESIGN §7, without waiting four token lifetimes: the server end
    # of the socket is scripted to do what osapp does at a token's exp (send tokenExpired, close
    # 4401) on every connect; /auth/session and the rest are the real app. The real server's
    # side is test_socket_closed_at_token_expiry_reconnects_after_an_http_refresh_without_reload.
    sign_in_as_bob(page, osapp.url)
    session_checks: list[str] = []
    page.on("request", lambda request: session_checks.append(request.url)
            if request.url.endswith("/auth/session") else None)

    connects: list[str] = []
    retried = False

    def expire_at_once(socket_route):
        connects.append(socket_route.url)
        if retried:  # after Retry, the real osapp socket
            socket_route.connect_to_server()
            return
        socket_route.send('{"type": "error", "error": "tokenExpired"}')
        socket_route.close(code=4401, reason="tokenExpired")

    page.route_web_socket("**/ws/o/globex/p/billing/", expire_at_once)
    page.goto(osapp.url + PROJECT_PATH)
    expect(page.locator("#live-status")).to_have_text("live updates unavailable", timeout=15_000)
    expect(page.locator("#live-retry")).to_be_visible()
    print(f"\nscripted expiry: sockets opened={len(connects)}, each closed 4401; "
          f"/auth/session requests={len(session_checks)}")
    assert len(connects) == 4  # the first socket and three rotations, then it stops trying
    assert len(session_checks) == 3  # one ordinary HTTP request per rotation

    retried = True
    page.locator("#live-retry").click()
    expect(page.locator("#live-status")).to_have_text("live")
    expect(page.locator("#live-retry")).to_be_hidden()
    assert page_problems.errors == []
