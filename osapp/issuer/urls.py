"""URLconf of the issuer: django-oauth-toolkit's endpoints at the root, login, project API.

Only the endpoints this issuer supports are mounted (no device flow, no client registration or
management pages). ``/.well-known/openid-configuration`` is served by ``IssuerDiscoveryView``.
"""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, include, path, re_path
from oauth2_provider import urls as dot_urls

from osapp.issuer.api import create_project, sign_out_everywhere
from osapp.issuer.discovery import IssuerDiscoveryView
from osapp.issuer.faults import faults_view
from osapp.issuer.views import home

SUPPORTED_OAUTH_ENDPOINTS = {"authorize", "token", "revoke-token", "introspect"}
DISCOVERY_NAME = "oidc-connect-discovery-info"


def _oauth_patterns() -> list[URLPattern]:
    base = [p for p in dot_urls.base_urlpatterns if p.name in SUPPORTED_OAUTH_ENDPOINTS]
    oidc = [p for p in dot_urls.oidc_urlpatterns if p.name != DISCOVERY_NAME]
    discovery = re_path(
        r"^\.well-known/openid-configuration/?$", IssuerDiscoveryView.as_view(), name=DISCOVERY_NAME
    )
    return [*dot_urls.metadata_urlpatterns, *base, discovery, *oidc]


urlpatterns = [
    path("", include((_oauth_patterns(), "oauth2_provider"), namespace="oauth2_provider")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="issuer/login.html"),
        name="login",
    ),
    path("api/projects", create_project, name="api-projects"),
    path("api/sessions/revoke", sign_out_everywhere, name="api-sign-out-everywhere"),
    path("_faults", faults_view, name="faults"),
    path("", home, name="home"),
]
