"""Hostile tokens through the real stack: a page (WSGI and ASGI), the API (cookie and bearer)
and a WebSocket.

Every case ends the same way on every channel: anonymous (a redirect to sign-in), a 401 in the
API's error shape, close 4401 on the socket. Never a 500 or an exception, never a call to the
issuer (a refresh cookie rides along, to prove junk cannot turn into issuer traffic, DESIGN §5),
and exactly one log line with the reason per rejected request. The one issuer call allowed is
the guarded JWKS refetch for an unknown `kid` (DESIGN §4): once per interval per process.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from django.test import AsyncClient, Client

from osapp.asgi import application
from tests.security.helpers import (
    DISCOVERY_PATH,
    assert_one_rejection_logged,
    id_token,
    id_token_claims,
    reconfigure,
    start_sign_in,
    token_response,
)
from tests.support import tokens
from tests.support.clients import cookie_client

# The 1024-bit key cases sign with a short key on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:The RSA key is 1024 bits")

PAGE = "/o/acme/p/website/"
SIGN_IN = f"/auth/login?next={PAGE}"
SOCKET = "/ws/o/acme/p/website/"
# Sealed for the tokens' subject: only the hostile access token can be why nothing refreshes.
HOSTILE_REFRESH = tokens.refresh_cookie("a-refresh-token-riding-along")
DROP = tokens.DROP


# Building hostile tokens -----------------------------------------------------------------------


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _json_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return value.encode() if isinstance(value, str) else json.dumps(value).encode()


def unsigned(header: Any, payload: Any, signature: bytes = b"\x00" * 256) -> str:
    """A compact JWS from raw parts that no key signed (str/bytes parts are taken as is)."""
    return f"{b64(_json_bytes(header))}.{b64(_json_bytes(payload))}.{b64(signature)}"


def signed(payload: Any, *, key: Any = None, algorithm: str = "RS256", **header: Any) -> str:
    """Signed by the issuer's own key unless `key` says otherwise; the payload is taken as is,
    so claims PyJWT would refuse to encode (a numeric `sub`, `exp` of 1e400) can be built."""
    return jwt.api_jws.PyJWS().encode(
        _json_bytes(payload),
        key or tokens.rsa_key("main"),
        algorithm=algorithm,
        headers={"kid": "kid-main", "typ": "at+jwt", **header},
    )


def claims(**overrides: Any) -> dict[str, Any]:
    return tokens.access_claims(**overrides)


def with_claims(**overrides: Any) -> Callable[[], str]:
    return lambda: signed(claims(**overrides))


def with_literal(**literals: str) -> Callable[[], str]:
    """The standard claims, some replaced by raw JSON text (`1e400`, `NaN`, a 401-digit int)."""

    def make() -> str:
        text = json.dumps(claims(**{name: DROP for name in literals}))[:-1]
        text += "".join(f', "{name}": {literal}' for name, literal in literals.items())
        return signed(text + "}")

    return make


def hs256_signed_with(secret: bytes) -> str:
    """RFC 8725 §2.1's key confusion: HMAC keyed with the issuer's public key."""
    head = b64(json.dumps({"alg": "HS256", "kid": "kid-main", "typ": "at+jwt"}))
    body = b64(json.dumps(claims()))
    mac = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


def public_pem(format_: serialization.PublicFormat) -> bytes:
    return tokens.rsa_key("main").public_key().public_bytes(serialization.Encoding.PEM, format_)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def tampered_payload() -> str:
    head, _, signature = tokens.access_token().split(".")
    evil = claims(orgs=[*tokens.ORGS, {"id": "9", "slug": "initech", "name": "Initech", "role": "owner"}])
    return f"{head}.{b64(json.dumps(evil))}.{signature}"


def tampered_signature() -> str:
    head, body, signature = tokens.access_token().split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"{head}.{body}.{signature[:middle]}{flipped}{signature[middle + 1:]}"


@functools.cache
def weak_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


@functools.cache
def ec_key(name: str) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def jwks_with(*extra: dict) -> str:
    return json.dumps({"keys": [tokens.public_jwk("main"), *extra]})


def ec_jwks() -> str:
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(ec_key("issuer").public_key(), as_dict=True)
    return jwks_with({**jwk, "kid": "kid-ec", "alg": "ES256", "use": "sig"})


def weak_rsa_jwks() -> str:
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(weak_rsa_key().public_key(), as_dict=True)
    return jwks_with({**jwk, "kid": "kid-weak", "alg": "RS256", "use": "sig"})


@functools.cache
def attacker_certificate() -> str:
    """A self-signed certificate for the attacker's key, as `x5c` carries it (RFC 7515 §4.1.6)."""
    key = tokens.rsa_key("attacker")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer.test")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def attacker_signed(**header: Any) -> Callable[[], str]:
    return lambda: signed(claims(), key=tokens.rsa_key("attacker"), **header)


# The matrix ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    make: Callable[[], str]
    jwks: Callable[[], str] | None = None  # OSAPP_JWKS for this case; default: the main key
    refetch: bool = False  # names a kid we do not know: one guarded JWKS refetch is allowed
    refresh_cookie: bool = True  # False only where a refresh would be legitimate (expiry)


def case(case_id: str, make: Callable[[], str], **options: Any) -> Any:
    return pytest.param(Case(make, **options), id=case_id)


NOW = int(time.time())
EVIL_ORG = {"id": "1", "slug": "acme", "name": "Acme Corp", "role": "owner"}

CASES = [
    # The algorithm comes from the key, never from the header (RFC 8725 §3.1).
    case("alg-none-empty-signature", lambda: f"{b64(json.dumps({'alg': 'none'}))}.{b64(json.dumps(claims()))}."),
    case("alg-none-with-signature", lambda: unsigned({"alg": "none", "kid": "kid-main"}, claims(), b"x")),
    case("alg-None-capitalised", lambda: unsigned({"alg": "None", "kid": "kid-main"}, claims())),
    case("alg-missing", lambda: unsigned({"kid": "kid-main", "typ": "at+jwt"}, claims())),
    case("alg-not-a-string", lambda: unsigned({"alg": ["RS256"], "kid": "kid-main"}, claims())),
    case("hs256-keyed-with-public-key-pem", lambda: hs256_signed_with(public_pem(serialization.PublicFormat.SubjectPublicKeyInfo))),
    case("hs256-keyed-with-public-key-pkcs1-pem", lambda: hs256_signed_with(public_pem(serialization.PublicFormat.PKCS1))),
    case("hs256-keyed-with-public-jwk", lambda: hs256_signed_with(json.dumps(tokens.public_jwk("main")).encode())),
    case("hs256-with-unknown-kid", lambda: jwt.encode(claims(), "s" * 32, algorithm="HS256", headers={"kid": "nope"})),
    case("ps256-on-an-rs256-key", lambda: signed(claims(), algorithm="PS256")),
    case("es256-header-on-an-rsa-key", lambda: unsigned({"alg": "ES256", "kid": "kid-main"}, claims(), b"\x00" * 64)),
    # kid: unknown (one guarded refetch), hostile characters, absurd sizes.
    case("kid-unknown", lambda: tokens.sign(claims(), kid="kid-rotated-away"), refetch=True),
    case("kid-path-traversal", lambda: tokens.sign(claims(), kid="../../etc/passwd"), refetch=True),
    case("kid-sql-injection", lambda: tokens.sign(claims(), kid="' OR 1=1 --"), refetch=True),
    case("kid-nul-byte", lambda: tokens.sign(claims(), kid="kid-main\x00"), refetch=True),
    case("kid-10kb", lambda: tokens.sign(claims(), kid="k" * 10240)),
    case("kid-300-chars", lambda: tokens.sign(claims(), kid="k" * 300)),
    case("kid-not-a-string", lambda: unsigned({"alg": "RS256", "kid": ["kid-main"]}, claims())),
    case("kid-missing", lambda: jwt.encode(claims(), tokens.rsa_key("main"), algorithm="RS256")),
    # Keys named or embedded by the token are never used (RFC 8725 §3.10).
    case("jku-to-attacker-jwks", attacker_signed(jku="https://evil.test/jwks.json")),
    case("jku-to-attacker-jwks-new-kid", attacker_signed(kid="kid-attacker", jku="https://evil.test/jwks.json"), refetch=True),
    case("x5u-to-attacker-certificate", attacker_signed(x5u="https://evil.test/cert.pem")),
    case("x5c-embedded-attacker-certificate", lambda: signed(claims(), key=tokens.rsa_key("attacker"), x5c=[attacker_certificate()])),
    case("jwk-embedded-attacker-key", lambda: signed(claims(), key=tokens.rsa_key("attacker"), jwk=tokens.public_jwk("attacker", kid="kid-main"))),
    case("signed-by-another-key", attacker_signed()),
    case("es256-signature-of-zeros", lambda: unsigned({"alg": "ES256", "kid": "kid-ec", "typ": "at+jwt"}, claims(), b"\x00" * 64), jwks=ec_jwks),
    case("es256-signed-by-another-ec-key", lambda: signed(claims(), key=ec_key("attacker"), algorithm="ES256", kid="kid-ec"), jwks=ec_jwks),
    case("rsa-1024-key-in-the-jwks", lambda: signed(claims(), key=weak_rsa_key(), kid="kid-weak"), jwks=weak_rsa_jwks),
    case("rsa-1024-key-not-in-the-jwks", lambda: signed(claims(), key=weak_rsa_key())),
    case("crit-unknown-extension", lambda: signed(claims(), crit=["https://evil.test/ext"], **{"https://evil.test/ext": True})),
    case("crit-naming-a-registered-claim", lambda: signed(claims(), crit=["exp"])),
    case("typ-not-a-string", lambda: signed(claims(), typ=5)),
    case("typ-logout-token", lambda: signed(claims(), typ="logout+jwt")),
    # Issuer: exact match only.
    case("iss-evil", with_claims(iss="https://evil.test")),
    case("iss-trailing-slash", with_claims(iss=tokens.ISSUER + "/")),
    case("iss-longer-host", with_claims(iss=tokens.ISSUER + ".evil.test")),
    case("iss-prefix", with_claims(iss=tokens.ISSUER[:-1])),
    case("iss-other-case", with_claims(iss=tokens.ISSUER.upper())),
    case("iss-list", with_claims(iss=[tokens.ISSUER])),
    case("iss-missing", with_claims(iss=DROP)),
    # Audience, and tokens issued to another client.
    case("aud-other", with_claims(aud="someone-else")),
    case("aud-list-without-us", with_claims(aud=["someone-else"])),
    case("aud-empty-list", with_claims(aud=[])),
    case("aud-number", with_claims(aud=42)),
    case("aud-missing", with_claims(aud=DROP)),
    case("aud-extra-evil-and-no-azp", with_claims(aud=[tokens.AUDIENCE, "https://evil.test"], client_id=DROP)),
    case("aud-extra-evil-issued-to-evil", with_claims(aud=[tokens.AUDIENCE, "https://evil.test"], azp="evil", client_id=DROP)),
    case("another-client-aud-and-azp", with_claims(aud="other-client", azp="other-client", client_id="other-client")),
    case("another-client-sharing-our-aud", with_claims(aud=[tokens.AUDIENCE, "other-client"], azp="other-client", client_id="other-client")),
    # An ID token in the access-token slot.
    case("id-token-as-access-token", lambda: signed(id_token_claims(), typ="JWT")),
    case("id-token-with-at-hash-as-access-token", lambda: signed(id_token_claims(nonce=DROP, at_hash="x"), typ="JWT")),
    # Time.
    case("expired", with_claims(iat=NOW - 4000, exp=NOW - 3600), refresh_cookie=False),
    case("nbf-in-the-future", with_claims(nbf=NOW + 3600)),
    case("iat-in-the-future", with_claims(iat=NOW + 3600)),
    case("exp-null", with_literal(exp="null")),
    case("exp-string-Infinity", with_literal(exp='"Infinity"')),
    case("exp-bare-Infinity", with_literal(exp="Infinity")),
    case("exp-NaN", with_literal(exp="NaN")),
    case("exp-list", with_literal(exp="[1]")),
    case("exp-1e400", with_literal(exp="1e400")),
    case("exp-401-digit-integer", with_literal(exp="1" + "0" * 400)),
    case("exp-true", with_literal(exp="true")),
    case("exp-numeric-string", with_literal(exp=f'"{NOW + 600}"')),
    case("iat-401-digit-integer", with_literal(iat="1" + "0" * 400)),
    case("nbf-minus-1e400", with_literal(nbf="-1e400")),
    # Subject.
    case("sub-missing", with_claims(sub=DROP)),
    case("sub-null", with_claims(sub=None)),
    case("sub-empty", with_claims(sub="")),
    case("sub-number", with_claims(sub=42)),
    case("sub-true", with_claims(sub=True)),
    case("sub-list", with_claims(sub=["42"])),
    case("sub-300-chars", with_claims(sub="4" * 300)),
    # Integrity and shape.
    case("tampered-payload", tampered_payload),
    case("tampered-signature", tampered_signature),
    case("truncated", lambda: tokens.access_token()[:-40]),
    case("two-segments", lambda: tokens.access_token().rsplit(".", 1)[0]),
    case("empty-signature", lambda: tokens.access_token().rsplit(".", 1)[0] + "."),
    case("four-segments", lambda: tokens.access_token() + ".e30"),
    case("jwe-shaped", lambda: ".".join([b64('{"alg":"RSA-OAEP","enc":"A256GCM"}'), "a", "b", "c", "d"])),
    case("standard-base64-padded", lambda: base64.b64encode(b'{"alg":"RS256","kid":"kid-main"}').decode() + ".e30.AAAA"),
    case("base64-of-impossible-length", lambda: "A." + tokens.access_token().split(".", 1)[1]),
    case("not-base64-at-all", lambda: "!!!.???.***"),
    case("header-not-json", lambda: unsigned(b"not json", claims())),
    case("header-json-array", lambda: unsigned(["RS256", "kid-main"], claims())),
    case("header-invalid-utf8", lambda: unsigned(b"\xff\xfe{", claims())),
    case("payload-not-json-signed", lambda: signed(b"not json")),
    case("payload-json-array-signed", lambda: signed(b"[1, 2, 3]")),
    case("payload-invalid-utf8-signed", lambda: signed(b"\xff\xfe")),
    case("header-nested-600-deep", lambda: unsigned(f'{{"alg":"RS256","kid":"kid-main","x":{nested(600)}}}', claims())),
    case("header-nested-5000-deep", lambda: unsigned(nested(5000), claims())),
    case("payload-nested-5000-deep-signed", lambda: signed(f'{{"x":{nested(5000)}}}')),
    case("payload-nested-5000-deep-unsigned", lambda: unsigned({"alg": "RS256", "kid": "kid-main"}, f'{{"x":{nested(5000)}}}')),
    # Claims of the wrong type or absurd size.
    case("orgs-string", with_claims(orgs="acme")),
    case("orgs-number", with_claims(orgs=5)),
    case("orgs-list-of-strings", with_claims(orgs=["acme", "globex"])),
    case("orgs-dict", with_claims(orgs={"acme": EVIL_ORG})),
    case("org-id-an-object", with_claims(orgs=[{**EVIL_ORG, "id": {"$ne": None}}])),
    case("org-without-slug", with_claims(orgs=[{k: v for k, v in EVIL_ORG.items() if k != "slug"}])),
    case("org-name-300-chars", with_claims(orgs=[{**EVIL_ORG, "name": "n" * 300}])),
    case("projects-string", with_claims(projects="website")),
    case("projects-list-of-numbers", with_claims(projects=[10, 20])),
    case("projects-dict", with_claims(projects={"10": tokens.PROJECTS[0]})),
    case("orgs-10000", with_claims(orgs=[{"id": str(n), "slug": f"o{n}", "name": f"Org {n}", "role": "member"} for n in range(10_000)])),
    case("org-name-200kb", with_claims(orgs=[{**EVIL_ORG, "name": "n" * 200_000}])),
    case("cookie-64kb", lambda: "a" * 21846 + "." + "b" * 21845 + "." + "c" * 21843),
]


# The channels ----------------------------------------------------------------------------------


def hostile_client(token: str, refresh: bool) -> Client:
    return cookie_client(token, refresh_cookie=HOSTILE_REFRESH if refresh else None)


def asgi_page(token: str, refresh: bool) -> Any:
    client = AsyncClient()
    client.cookies["osapp_at"] = token
    if refresh:
        client.cookies["osapp_rt"] = HOSTILE_REFRESH
    return async_to_sync(client.get)(PAGE)


def assert_unauthorized(response: Any) -> None:
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == "unauthorized" and body["error"]["message"]


async def _socket_close_code(cookie_header: str) -> int | None:
    # channels.testing.WebsocketCommunicator without its import of daphne: the same scope.
    scope = {
        "type": "websocket",
        "path": SOCKET,
        "query_string": b"",
        "headers": [(b"host", b"localhost"), (b"origin", b"http://localhost"), (b"cookie", cookie_header.encode("latin-1"))],
        "subprotocols": [],
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "websocket.connect"})
    message = await communicator.receive_output(timeout=5)
    if message["type"] == "websocket.accept":  # refusals are accepted only to carry their code
        message = await communicator.receive_output(timeout=5)
    await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
    await communicator.wait(timeout=5)
    assert message["type"] == "websocket.close", message
    return message.get("code")


def socket_close_code(token: str, refresh: bool) -> int | None:
    header = f"osapp_at={token}" + (f"; osapp_rt={HOSTILE_REFRESH}" if refresh else "")
    return asyncio.run(_socket_close_code(header))


@pytest.mark.parametrize("case", CASES)
def test_hostile_token_is_rejected_everywhere(case: Case, fake_issuer, settings, monkeypatch, caplog):
    if case.jwks is not None:
        reconfigure(settings, fake_issuer, OSAPP_JWKS=case.jwks())
    token = case.make()

    caplog.clear()
    page = hostile_client(token, case.refresh_cookie).get(PAGE)
    assert (page.status_code, page.get("Location")) == (302, SIGN_IN)
    assert_one_rejection_logged(caplog, "page")

    caplog.clear()
    page = asgi_page(token, case.refresh_cookie)  # production serves ASGI: the async middleware path
    assert (page.status_code, page.get("Location")) == (302, SIGN_IN)
    assert_one_rejection_logged(caplog, "page (asgi)")

    caplog.clear()
    assert_unauthorized(hostile_client(token, refresh=False).get("/api/me"))
    assert_one_rejection_logged(caplog, "api (cookie)")

    caplog.clear()
    response = Client().get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert_unauthorized(response)
    assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert_one_rejection_logged(caplog, "api (bearer)")

    caplog.clear()
    assert socket_close_code(token, case.refresh_cookie) == 4401
    assert_one_rejection_logged(caplog, "websocket")

    assert {request.url.host for request in fake_issuer.requests} <= {"issuer.test"}
    # The first channel's unknown kid may fetch the JWKS once; the interval guards the rest.
    assert fake_issuer.paths == ([DISCOVERY_PATH, "/jwks"] if case.refetch else [])


def test_the_matrix_covers_at_least_forty_cases():
    print(f"hostile-token matrix: {len(CASES)} cases x 5 channels (page wsgi+asgi, api cookie+bearer, websocket)")
    assert len(CASES) >= 40


# The guarded refetch, explicitly ----------------------------------------------------------------


def test_unknown_kids_fetch_the_jwks_at_most_once_per_interval(fake_issuer, caplog):
    clock = [time.time()]
    fake_issuer.attach(clock=lambda: clock[0])  # the runtime's injected clock, nothing patched

    def current_claims() -> dict[str, Any]:
        return claims(iat=int(clock[0]), exp=int(clock[0]) + 600)

    def unknown(n: int) -> str:
        return tokens.sign(current_claims(), kid=f"unknown-{n}")

    for n in range(5):
        assert hostile_client(unknown(n), refresh=True).get(PAGE).status_code == 302
        assert_unauthorized(Client().get("/api/me", headers={"Authorization": f"Bearer {unknown(n)}"}))
        assert socket_close_code(unknown(100 + n), refresh=True) == 4401
    assert fake_issuer.paths.count("/jwks") == 1

    # Many at once: one fetch; callers arriving meanwhile wait for it instead of fetching again.
    clock[0] += 301
    fake_issuer.jwks_delay = 0.2
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda n: hostile_client(unknown(200 + n), refresh=True).get(PAGE).status_code, range(32)))
    assert statuses == [302] * 32
    assert fake_issuer.paths.count("/jwks") == 2
    fake_issuer.jwks_delay = 0.0

    # A rotation at the issuer: the next interval's fetch finds the new key; nobody is logged out.
    fake_issuer.jwks = json.loads(tokens.jwks_json("main", "rotated"))
    clock[0] += 301
    rotated = tokens.sign(current_claims(), key="rotated")
    client = AsyncClient()  # the async path fetches too, in a worker thread off the event loop
    client.cookies["osapp_at"] = rotated
    assert async_to_sync(client.get)("/").status_code == 200
    assert Client().get("/api/me", headers={"Authorization": f"Bearer {rotated}"}).status_code == 200
    assert fake_issuer.paths.count("/jwks") == 3


def test_unknown_kid_with_an_algorithm_we_never_accept_never_fetches(fake_issuer):
    token = jwt.encode(claims(), "s" * 32, algorithm="HS256", headers={"kid": "unknown"})
    assert hostile_client(token, refresh=True).get(PAGE).status_code == 302
    assert socket_close_code(token, refresh=True) == 4401
    assert fake_issuer.paths == []


# The callback and display paths ----------------------------------------------------------------


TokenResponse = Callable[[str], dict[str, Any]]  # nonce -> the token endpoint's JSON


def response_with(access: Callable[[str], str], id_: Callable[[str], str | None]) -> TokenResponse:
    return lambda nonce: token_response(access(nonce), id_(nonce))


def good_access(nonce: str) -> str:
    return tokens.access_token()


CALLBACK_CASES = [
    pytest.param(response_with(good_access, lambda n: tokens.access_token()), id="access-token-as-id-token"),
    pytest.param(response_with(good_access, lambda n: tokens.sign(claims(), typ="JWT")), id="access-token-typ-JWT-as-id-token"),
    pytest.param(response_with(lambda n: id_token(n), id_token), id="id-token-as-access-token"),
    pytest.param(response_with(good_access, lambda n: id_token("another-nonce")), id="id-token-other-nonce"),
    pytest.param(response_with(good_access, lambda n: tokens.sign(id_token_claims(nonce=DROP), typ="JWT")), id="id-token-without-nonce"),
    pytest.param(response_with(good_access, lambda n: id_token(n, aud="other-client")), id="id-token-for-another-client"),
    pytest.param(response_with(good_access, lambda n: id_token(n, iss="https://evil.test")), id="id-token-from-another-issuer"),
    pytest.param(response_with(good_access, lambda n: signed(id_token_claims(nonce=n), key=tokens.rsa_key("attacker"), typ="JWT")), id="id-token-signed-by-another-key"),
    pytest.param(response_with(good_access, lambda n: unsigned({"alg": "none", "kid": "kid-main"}, id_token_claims(nonce=n))), id="id-token-alg-none"),
    pytest.param(response_with(good_access, lambda n: id_token(n, iat=NOW - 4000, exp=NOW - 3600)), id="id-token-expired"),
    pytest.param(response_with(good_access, lambda n: id_token(n, sub="43")), id="id-token-for-another-subject"),
    pytest.param(response_with(good_access, lambda n: None), id="no-id-token"),
    pytest.param(response_with(lambda n: tokens.access_token(aud="someone-else"), id_token), id="access-token-for-another-audience"),
    pytest.param(response_with(lambda n: "garbage", id_token), id="access-token-garbage"),
]


@pytest.mark.parametrize("respond", CALLBACK_CASES)
def test_hostile_tokens_at_the_callback_are_refused(respond: TokenResponse, fake_issuer, caplog):
    client = Client()
    authorization = start_sign_in(client)
    fake_issuer.token_endpoint = lambda request: httpx.Response(200, json=respond(authorization["nonce"]))
    caplog.clear()
    response = client.get("/auth/callback", {"code": "the-code", "state": authorization["state"]})
    assert response.status_code == 400
    assert "Sign-in failed" in response.content.decode()
    assert_one_rejection_logged(caplog, "callback")
    assert not any(response.cookies[name].value for name in ("osapp_at", "osapp_idt", "osapp_rt") if name in response.cookies)
    assert fake_issuer.paths == [DISCOVERY_PATH, "/token"]


def test_an_access_token_in_the_id_token_cookie_never_supplies_display_claims(fake_issuer, caplog):
    client = Client()
    client.cookies["osapp_at"] = tokens.access_token(name=DROP, email=DROP)
    client.cookies["osapp_idt"] = tokens.access_token(name="Mallory", email="mallory@evil.test")
    caplog.clear()
    assert client.get("/auth/session").json()["user"] == {"id": "42", "name": "", "email": ""}
    assert "Mallory" not in client.get("/").content.decode()
    # The real thing, for contrast: an ID token for the same subject names the user.
    client.cookies["osapp_at"] = tokens.access_token(name=DROP, email=DROP, jti="another")
    client.cookies["osapp_idt"] = id_token("any", name="Ada Lovelace", email="ada@example.test")
    assert client.get("/auth/session").json()["user"]["name"] == "Ada Lovelace"
    assert fake_issuer.paths == []
