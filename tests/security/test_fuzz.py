"""Property-based fuzzing of everything that parses attacker-controlled input before trust.

Cookies (whole and chunked), the WebSocket Cookie headers, the token's header and the whole
verification, and the `next` redirect target: each must never raise anything but the one
exception its contract names, and must bound what it returns. 300 examples per property in `make test`, 10 000 in
`make test-fuzz` (CI runs both).
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from osapp.claims.cookies import MAX_CHUNKS, read_token_cookie
from osapp.claims.errors import TokenInvalid
from osapp.claims.keys import KeySet, parse_jwks
from osapp.claims.principal import MAX_FIELD_CHARS
from osapp.claims.tokens import (
    MAX_NUMERIC_DATE,
    VerifyPolicy,
    read_header,
    verify_access_token,
    verify_id_token,
)
from osapp.claims.views import safe_next
from osapp.claims.websocket import MAX_COOKIE_HEADER_BYTES, cookies_from_scope
from tests.support import tokens

pytestmark = pytest.mark.fuzz

EXAMPLES = settings(
    # A few hundred in `make test`; `make test-fuzz` (CI's separate pass) runs 10 000.
    max_examples=int(os.environ.get("OSAPP_FUZZ_EXAMPLES", "300")),
    deadline=None,
    database=None,  # nothing written to the working tree; a failure prints its reproduction
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NAME = "osapp_at"
POLICY = VerifyPolicy(issuer=tokens.ISSUER, audience=tokens.AUDIENCE, client_id=tokens.CLIENT_ID)
KEYS = KeySet(parse_jwks(tokens.jwks_json("main")))
MAX_TOKEN_BYTES = POLICY.max_token_bytes


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# Cookies -----------------------------------------------------------------------------------------

cookie_names = st.sampled_from([NAME, *(f"{NAME}.{i}" for i in range(MAX_CHUNKS + 2)), "x"]) | st.text(max_size=6)
cookie_jars = st.lists(st.tuples(cookie_names, st.text(max_size=24)), max_size=10).map(dict)


@EXAMPLES
@given(cookie_jars)
def test_read_token_cookie_never_raises_and_reads_at_most_max_chunks(cookies: dict[str, str]):
    value = read_token_cookie(cookies, NAME)
    if value is None:
        return
    assert isinstance(value, str) and value
    if cookies.get(NAME):
        assert value == cookies[NAME]
        return
    # Reassembled: consecutive chunks from .0, never more than MAX_CHUNKS of them.
    chunks = [cookies.get(f"{NAME}.{i}", "") for i in range(MAX_CHUNKS)]
    assert any(value == "".join(chunks[:k]) for k in range(1, MAX_CHUNKS + 1))


cookie_text = st.lists(
    st.sampled_from(["osapp", "_at", "=", ";", " ", '"', "\\", ",", "$Path", "expires", "\x00", "\xe9", "a.b-c"])
    | st.text(max_size=4),
    max_size=8,
).map("".join)
header_values = cookie_text.map(lambda text: text.encode("utf-8")) | st.binary(max_size=60)
header_names = st.sampled_from([b"cookie", b"Cookie", b"COOKIE", b"origin"]) | st.binary(max_size=6)
junk_headers = st.lists(st.tuples(header_names, header_values), max_size=3)
token_values = st.lists(st.binary(min_size=1, max_size=15).map(b64), min_size=3, max_size=3).map(".".join)


@EXAMPLES
@given(junk_headers, st.none() | token_values, junk_headers)
def test_websocket_cookie_parsing_never_raises_and_finds_the_session(before, token, after):
    # HTTP/2 and some proxies send one Cookie header per cookie (DESIGN §11); junk in the
    # others must neither crash the parser nor hide the session cookie.
    ours = [(b"cookie", f"{NAME}={token}".encode())] if token else []
    headers = [*before, *ours, *after]
    cookies = cookies_from_scope({"type": "websocket", "headers": headers})
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in cookies.items())
    # Everything returned was in the Cookie headers: nothing grows in parsing.
    total = sum(len(value) + 2 for name, value in headers if name.lower() == b"cookie")
    assert sum(len(k) + len(v) for k, v in cookies.items()) <= total
    later_mentions = any(NAME.encode() in value for _, value in after)
    if token and not later_mentions and total <= MAX_COOKIE_HEADER_BYTES:
        assert cookies.get(NAME) == token


# Tokens ------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and ±Infinity too: Python's json writes and reads them
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=8,
)


def objects(known: dict[str, st.SearchStrategy]) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects with any subset of the known members, each well-formed or any JSON."""
    return st.fixed_dictionaries({}, optional={name: s | json_values for name, s in known.items()})


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """A branch chosen with the given weights (`one_of` picks its own way)."""
    return st.sampled_from([s for weight, s in choices for _ in range(weight)]).flatmap(lambda s: s)


def mostly(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """Usually `strategy`, now and then any JSON at all."""
    return weighted((9, strategy), (1, json_values))


NOW = time.time()
odd_dates = st.sampled_from([MAX_NUMERIC_DATE, MAX_NUMERIC_DATE + 1, 10**400, -(10**30), 1.5, -0.0])
past = weighted((5, st.integers(min_value=int(NOW) - 4000, max_value=int(NOW))), (1, odd_dates))
future = weighted((5, st.integers(min_value=int(NOW) - 100, max_value=int(NOW) + 4000)), (1, odd_dates))
short_text = st.text(max_size=4)
label = st.text(min_size=1, max_size=4)
org = st.fixed_dictionaries(
    {"id": mostly(label), "slug": mostly(label), "name": mostly(label)},
    optional={"role": st.sampled_from(["owner", "admin", "member", "x"]) | json_values},
)
project = st.fixed_dictionaries({name: mostly(label) for name in ("id", "slug", "name", "org_id")})
HEADER_MEMBERS = {
    "alg": st.sampled_from(["RS256", "PS256", "ES256", "EdDSA", "HS256", "none"]),
    "kid": st.sampled_from(["kid-main", "other", ""]),
    "typ": st.sampled_from(["at+jwt", "JWT", "application/at+jwt", "id+jwt"]),
    "crit": st.lists(short_text, max_size=2),
    "jku": st.just("https://evil.test/jwks"),
    "jwk": st.just(tokens.public_jwk("attacker")),
}
# Three in four headers name our key and algorithm (so verification gets past the header),
# with extra members the token must not be able to use; the rest are anything at all.
plausible_headers = st.fixed_dictionaries(
    {"alg": st.just("RS256"), "kid": st.just("kid-main")},
    optional={name: HEADER_MEMBERS[name] for name in ("typ", "jku", "jwk")} | {"x5u": json_values},
)
headers = weighted((3, plausible_headers), (1, objects(HEADER_MEMBERS)))
PAYLOAD_MEMBERS = {
    "iss": weighted((8, st.just(tokens.ISSUER)), (1, st.sampled_from([tokens.ISSUER + "/", "https://evil.test"]))),
    "sub": weighted((8, st.just("42")), (1, st.sampled_from(["", "4" * (MAX_FIELD_CHARS + 1)]) | short_text)),
    "aud": st.sampled_from([tokens.AUDIENCE, tokens.AUDIENCE, [tokens.AUDIENCE], [tokens.AUDIENCE, "evil"], "evil"]),
    "exp": future,
    "iat": past,
}
OPTIONAL_PAYLOAD_MEMBERS = {
    "nbf": past | future,
    "azp": st.sampled_from([tokens.CLIENT_ID, "evil"]),
    "orgs": st.lists(org, max_size=2),
    "projects": st.lists(project, max_size=2),
    "nonce": short_text,
}
plausible_payloads = st.fixed_dictionaries(
    {name: mostly(s) for name, s in PAYLOAD_MEMBERS.items()},
    optional={name: mostly(s) for name, s in OPTIONAL_PAYLOAD_MEMBERS.items()},
)
payloads = weighted((3, plausible_payloads), (1, objects(PAYLOAD_MEMBERS | OPTIONAL_PAYLOAD_MEMBERS)))
SIGNER = jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256)


def json_bytes(value: Any) -> bytes:
    try:
        return json.dumps(value).encode()
    except (ValueError, RecursionError):
        return b"{}"


@st.composite
def jwts(draw: st.DrawFn) -> str:
    """Compact JWS of arbitrary JSON, signed with the issuer's own key or not signed at all."""
    signing_input = f"{b64(json_bytes(draw(headers)))}.{b64(json_bytes(draw(payloads)))}"
    if draw(st.integers(0, 3)):
        signature = SIGNER.sign(signing_input.encode(), tokens.rsa_key("main"))
    else:
        signature = draw(st.binary(min_size=1, max_size=64))
    return f"{signing_input}.{b64(signature)}"


arbitrary_strings = (
    st.text(max_size=100)
    | st.binary(max_size=100).map(b64)
    | st.lists(st.binary(max_size=60).map(b64), min_size=1, max_size=5).map(".".join)
    | st.binary(max_size=100).map(lambda raw: raw.decode("latin-1"))
)


def raises_only_token_invalid(call: Any, what: str) -> Any:
    """The call's result, or None when it raised TokenInvalid; anything else fails the test."""
    try:
        result = call()
    except TokenInvalid as exc:
        # Shown by --hypothesis-show-statistics: how deep the examples get.
        event(f"{what}: {re.sub(r'[0-9]+', 'N', exc.reason)[:40]}")
        return None
    event(f"{what}: accepted")
    return result


def check_every_parser(token: str, nonce: str | None = None) -> None:
    header = raises_only_token_invalid(lambda: read_header(token, MAX_TOKEN_BYTES), "header")
    if header is not None:
        assert isinstance(header, dict) and "crit" not in header
    principal = raises_only_token_invalid(
        lambda: verify_access_token(token, KEYS, POLICY, now=NOW), "access token"
    )
    if principal is not None:
        assert header is not None
        assert principal.user_id and len(principal.user_id) <= MAX_FIELD_CHARS
        assert isinstance(principal.expires_at, int) and principal.expires_at > NOW - POLICY.leeway_seconds
    claims = raises_only_token_invalid(
        lambda: verify_id_token(token, KEYS, POLICY, now=NOW, nonce=nonce, allow_expired=True),
        "id token",
    )
    if claims is not None:
        assert claims["iss"] == tokens.ISSUER and nonce in (None, claims.get("nonce"))


@EXAMPLES
@given(arbitrary_strings)
def test_token_parsers_raise_only_token_invalid_on_arbitrary_text(token: str):
    check_every_parser(token)


@EXAMPLES
@given(jwts(), st.none() | short_text)
def test_token_parsers_raise_only_token_invalid_on_jwts_of_arbitrary_json(token: str, nonce: str | None):
    check_every_parser(token, nonce)


# The redirect after sign-in ----------------------------------------------------------------------

next_pieces = st.sampled_from(
    ["/", "//", "\\", "/\\", "\\\\", "evil.test", "http:", "https://", "javascript:", "%2F", "%5C",
     "\t", "\n", "\r", " ", "\x00", "@", ":", "?", "#", "o/acme", "..", "%09", "\u3002", "\uff0f"]
) | st.text(max_size=4)
next_candidates = st.none() | st.lists(next_pieces, max_size=10).map("".join)


def browser_view(url: str) -> str:
    """What a browser makes of a Location value (WHATWG URL: tabs and newlines are dropped,
    `\\` is `/` in http(s) URLs, leading C0 controls and spaces are stripped)."""
    return re.sub(r"[\t\n\r]", "", url).replace("\\", "/").lstrip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")


UNSAFE_NEXT = ["https://evil.test/", "//evil.test", "/\\evil.test", "\\\\evil.test", "javascript:alert(1)",
               "http:/evil.test", "", None, "/%2F%2Fevil.test"]
LOCAL_NEXT = ["/", "/o/acme/", "/o/acme/p/website/?tab=events"]


def _with_examples(test):
    for candidate in UNSAFE_NEXT + LOCAL_NEXT:
        test = example(candidate)(test)
    return test


@EXAMPLES
@_with_examples
@given(next_candidates)
def test_safe_next_is_always_a_local_path(candidate: str | None):
    target = safe_next(candidate)
    if candidate in UNSAFE_NEXT:
        assert target in ("/", "/%2F%2Fevil.test")
    if candidate in LOCAL_NEXT:
        assert target == candidate
    assert target.startswith("/") and not target.startswith(("//", "/\\"))
    seen = browser_view(target)
    assert seen.startswith("/") and not seen.startswith("//")
    parts = urlsplit(seen)
    assert not parts.scheme and not parts.netloc
