"""WSGI entry point of the issuer (served by gunicorn from ``python -m osapp.issuer``)."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "osapp.issuer.settings")

application = get_wsgi_application()
