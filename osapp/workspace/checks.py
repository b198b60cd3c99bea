"""The workspace's deploy checks (`manage.py check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

from osapp.claims.config import load_config


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
