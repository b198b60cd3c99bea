"""App config: registers the system checks."""

from django.apps import AppConfig


class ClaimsConfig(AppConfig):
    name = "osapp.claims"
    label = "claims"
    verbose_name = "Claims-only sessions"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the checks
