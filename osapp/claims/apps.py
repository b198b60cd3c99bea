"""App config: registers the system checks and the runtime's reload on settings changes."""

from django.apps import AppConfig


class ClaimsConfig(AppConfig):
    name = "osapp.claims"
    label = "claims"
    verbose_name = "Claims-only sessions"

    def ready(self) -> None:
        from . import checks, runtime  # noqa: F401 - register the checks and the signal receiver
