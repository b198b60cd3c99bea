"""System checks of osapp's own variables: a wrong one fails `manage.py check` (or
`check --deploy`, for settings only a laptop may use), naming the variable. The claims
component checks its settings itself (`claims.*`, osapp/claims/checks.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from osapp.claims import load_config
from osapp.environment import environment_problems

from .throttling import rate_error

DEVELOPMENT_CLIENT_SECRET = "osapp-dev-secret"


@register("osapp")
def check_environment(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return environment_problems(getattr(settings, "OSAPP_ENVIRONMENT_ERRORS", ()))


@register("osapp", deploy=True)
def check_development_secret(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    config = load_config()
    if not config.issuer_is_loopback and config.client_secret == DEVELOPMENT_CLIENT_SECRET:
        return [
            Error(
                "OSAPP_CLIENT_SECRET is the development issuer's secret, with a non-development issuer",
                hint="Set OSAPP_CLIENT_SECRET to the secret the issuer registered for this client.",
                id="osapp.E004",
            )
        ]
    return []


@register("osapp")
def check_event_rate(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    problem = rate_error(settings.OSAPP_EVENT_RATE)
    if problem is None:
        return []
    return [
        Error(
            f"OSAPP_EVENT_RATE: {problem}",
            hint="Set OSAPP_EVENT_RATE to event appends allowed per user, e.g. 60/min.",
            id="osapp.E010",
        )
    ]


@register("osapp", deploy=True)
def check_projects_api(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if getattr(settings, "OSAPP_PROJECTS_API_GUESSED", False) and not load_config().issuer_is_loopback:
        return [
            Error(
                f"OSAPP_PROJECTS_API is unset: {settings.OSAPP_PROJECTS_API} is the development issuer's "
                "path, guessed for a non-development issuer",
                hint="Set OSAPP_PROJECTS_API to your issuer's project-creation endpoint.",
                id="osapp.E005",
            )
        ]
    return []
