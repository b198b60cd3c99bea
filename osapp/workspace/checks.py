"""System checks for the workspace: a wrong setting fails `manage.py check` (or
`check --deploy`, for settings only a laptop may use), naming the variable."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from osapp.claims.config import load_config

from .throttling import rate_error


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
