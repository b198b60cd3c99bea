"""A browser-like HTTP client: one cookie jar across osapp and the issuer, redirects followed."""

from __future__ import annotations

import re

import httpx

from tests.support.retry import RetryingTransport

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class SignInFailed(AssertionError):
    pass


def new_browser(**kwargs) -> httpx.Client:
    kwargs.setdefault("transport", RetryingTransport())
    return httpx.Client(follow_redirects=True, timeout=30, **kwargs)


def sign_in(
    browser: httpx.Client,
    osapp_url: str,
    username: str,
    password: str,
    next_path: str = "/",
    login_path: str = "/auth/login",
) -> httpx.Response:
    """Sign in through osapp's real flow: osapp → issuer login form → consent-free authorize → callback."""
    form_page = browser.get(f"{osapp_url}{login_path}", params={"next": next_path})
    if form_page.status_code != 200 or "csrfmiddlewaretoken" not in form_page.text:
        raise SignInFailed(f"expected the issuer's login form, got {form_page.status_code} at {form_page.url}")
    token = CSRF_INPUT.search(form_page.text)
    assert token is not None
    landed = browser.post(
        str(form_page.url),
        data={"csrfmiddlewaretoken": token.group(1), "username": username, "password": password},
        headers={"Referer": str(form_page.url)},
    )
    if landed.status_code != 200 or not str(landed.url).startswith(osapp_url):
        raise SignInFailed(f"sign-in ended at {landed.url} with {landed.status_code}: {landed.text[:300]}")
    return landed


def csrf_token(browser: httpx.Client) -> str:
    for cookie in browser.cookies.jar:
        if cookie.name in ("csrftoken", "__Host-csrftoken"):
            return cookie.value
    raise AssertionError("no CSRF cookie")
