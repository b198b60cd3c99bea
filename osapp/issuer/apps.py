"""App config of the development issuer (app label ``issuer``)."""

from __future__ import annotations

from django.apps import AppConfig


class IssuerConfig(AppConfig):
    name = "osapp.issuer"
    label = "issuer"
    verbose_name = "Development OIDC issuer"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from osapp.issuer import checks  # noqa: F401  (registers the system checks)
