"""`manage.py check --deploy`: settings that only fit a laptop are named before they ship."""

from __future__ import annotations

import pytest

from osapp.claims.checks import check_claims_deploy
from osapp.claims.config import reset_config


def ids(monkeypatch, **env: str) -> set[str]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_config()
    return {message.id for message in check_claims_deploy()}


@pytest.mark.usefixtures("claims_env")
def test_the_development_client_secret_with_a_real_issuer_is_a_deploy_error(monkeypatch):
    monkeypatch.delenv("OSAPP_CLIENT_SECRET", raising=False)
    assert "osapp.E004" in ids(monkeypatch)  # tokens.ISSUER is https://, not loopback
    assert "osapp.E004" not in ids(monkeypatch, OSAPP_CLIENT_SECRET="registered-secret")
    assert "osapp.E004" not in ids(monkeypatch, OSAPP_ISSUER="http://127.0.0.1:9000", OSAPP_CLIENT_SECRET="osapp-dev-secret")


@pytest.mark.usefixtures("claims_env")
def test_an_unset_base_url_is_a_deploy_warning(monkeypatch):
    monkeypatch.delenv("OSAPP_BASE_URL", raising=False)
    assert "osapp.W004" in ids(monkeypatch)
    assert "osapp.W004" not in ids(monkeypatch, OSAPP_BASE_URL="https://app.example")


@pytest.mark.usefixtures("claims_env")
def test_the_guessed_projects_api_with_a_real_issuer_is_a_deploy_error(settings):
    from osapp.workspace.checks import check_projects_api

    settings.OSAPP_PROJECTS_API_GUESSED = True
    settings.OSAPP_PROJECTS_API = "https://issuer.test/api/projects"
    assert [m.id for m in check_projects_api()] == ["osapp.E005"]
    settings.OSAPP_PROJECTS_API_GUESSED = False
    assert check_projects_api() == []
