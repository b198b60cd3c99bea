"""System checks: one id per problem, each naming what the operator sets."""

from __future__ import annotations

import pytest

from osapp.claims.checks import check_claims_config, check_claims_deploy
from osapp.workspace.checks import check_development_secret, check_environment
from tests.conftest import claims_settings


def ids(settings, environment: dict[str, str], **env: str) -> set[str]:
    settings.CLAIMS_SESSION = claims_settings({**environment, **env})
    found = check_claims_config() + check_claims_deploy() + check_development_secret()
    return {message.id for message in found}


def test_the_development_client_secret_with_a_real_issuer_is_a_deploy_error(claims_env, settings):
    assert "osapp.E004" in ids(settings, claims_env)  # tokens.ISSUER is https://, not loopback
    assert "osapp.E004" not in ids(settings, claims_env, OSAPP_CLIENT_SECRET="registered-secret")
    assert "osapp.E004" not in ids(settings, claims_env, OSAPP_ISSUER="http://127.0.0.1:9000")


def test_an_unset_base_url_is_a_deploy_warning(claims_env, settings):
    assert "claims.W002" in ids(settings, claims_env)
    assert "claims.W002" not in ids(settings, claims_env, OSAPP_BASE_URL="https://app.example")


def test_no_client_secret_is_an_error_naming_the_variable(claims_env, settings):
    environment = {k: v for k, v in claims_env.items() if k != "OSAPP_CLIENT_SECRET"}
    settings.CLAIMS_SESSION = claims_settings(environment)
    messages = [m for m in check_claims_config() if m.id == "claims.E001"]
    assert [m.msg for m in messages] == ["OSAPP_CLIENT_SECRET: must be set"]


def test_an_unparsable_variable_is_osapp_e001_and_a_bad_value_claims_e001(claims_env, settings):
    from osapp.environment import claims_session

    _, errors = claims_session({**claims_env, "OSAPP_REFRESH_SKEW": "soon"})
    settings.OSAPP_ENVIRONMENT_ERRORS = errors
    assert [(m.id, m.msg) for m in check_environment()] == [
        ("osapp.E001", "OSAPP_REFRESH_SKEW='soon' is not an integer")
    ]
    settings.CLAIMS_SESSION = {**settings.CLAIMS_SESSION, "REFRESH_SKEW": -1, "NO_SUCH_KEY": 1}
    messages = sorted(m.msg for m in check_claims_config() if m.id == "claims.E001")
    assert messages == [
        'CLAIMS_SESSION["NO_SUCH_KEY"]: is not a setting of the claims component (see docs/claims.md)',
        "OSAPP_REFRESH_SKEW: -1 must be at least 0",
    ]


@pytest.mark.parametrize(
    ("middleware", "expected"),
    [
        ([], {"claims.E005"}),
        (["osapp.claims.middleware.ClaimsSessionMiddleware"], set()),
        (["osapp.claims.ClaimsSessionMiddleware"], set()),
        (["django.contrib.sessions.middleware.SessionMiddleware",
          "django.contrib.auth.middleware.AuthenticationMiddleware",
          "osapp.claims.middleware.ClaimsSessionMiddleware"], {"claims.E006"}),
        (["django.contrib.auth.middleware.LoginRequiredMiddleware",
          "osapp.claims.middleware.ClaimsSessionMiddleware"], {"claims.E007"}),
        (["osapp.claims.middleware.ClaimsSessionMiddleware",
          "django.contrib.auth.middleware.LoginRequiredMiddleware"], set()),
    ],
    ids=["missing", "alone", "public-name", "with-authentication-middleware", "login-required-before", "login-required-after"],
)
def test_middleware_problems_have_their_own_ids(claims_env, settings, middleware, expected):
    settings.MIDDLEWARE = middleware
    found = {m.id for m in check_claims_config() if m.id in ("claims.E005", "claims.E006", "claims.E007")}
    assert found == expected


def test_the_guessed_projects_api_with_a_real_issuer_is_a_deploy_error(claims_env, settings):
    from osapp.workspace.checks import check_projects_api

    settings.OSAPP_PROJECTS_API_GUESSED = True
    settings.OSAPP_PROJECTS_API = "https://issuer.test/api/projects"
    assert [m.id for m in check_projects_api()] == ["osapp.E005"]
    settings.OSAPP_PROJECTS_API_GUESSED = False
    assert check_projects_api() == []
