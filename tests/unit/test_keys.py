"""JWKS validation: only public signing keys with a kid and a usable algorithm are kept."""

from __future__ import annotations

import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from osapp.claims.keys import JwksError, parse_jwks
from tests.support import tokens


def test_public_rsa_key_is_parsed_and_pinned_to_its_algorithm():
    keys = parse_jwks(tokens.jwks_json("main"))
    assert keys["kid-main"].algorithm == "RS256"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda k: k.pop("kid"), "no 'kid'"),
        (lambda k: k.update(kty="oct", k="c2VjcmV0"), "symmetric"),
        (lambda k: k.update(d="AAAA"), "private key material"),
        (lambda k: k.update(alg="HS256"), "not usable"),
        (lambda k: k.update(kty="XYZ"), "unsupported kty"),
    ],
)
def test_unusable_keys_are_refused(mutate, message):
    jwk = tokens.public_jwk()
    mutate(jwk)
    with pytest.raises(JwksError, match=message):
        parse_jwks({"keys": [jwk]})


def test_small_rsa_key_is_refused():
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(small.public_key()))
    jwk["kid"] = "small"
    with pytest.raises(JwksError, match="at least 2048"):
        parse_jwks({"keys": [jwk]})


@pytest.mark.parametrize("document", ["not json", "[]", '{"keys": {}}', '{"keys": []}'])
def test_malformed_documents_are_refused(document):
    with pytest.raises(JwksError):
        parse_jwks(document)


def test_encryption_keys_are_skipped():
    enc = tokens.public_jwk("main", kid="enc")
    enc["use"] = "enc"
    keys = parse_jwks({"keys": [tokens.public_jwk(), enc]})
    assert list(keys) == ["kid-main"]
