"""System checks for the workspace: a wrong setting fails `manage.py check`, naming the variable."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register

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
