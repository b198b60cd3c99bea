"""Operational endpoints: `/healthz` (alive), `/readyz` (can serve), `/metrics` (Prometheus)."""

from __future__ import annotations

import logging
import os

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from osapp.claims import readiness, render_metrics

log = logging.getLogger("osapp.health")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks = readiness()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseError as exc:
        checks["database"] = f"failing: {type(exc).__name__}"
    ready = all(value.startswith("ok") for value in checks.values())
    if not ready:
        log.warning("not ready: %s", checks)
    return JsonResponse({"ready": ready, "checks": checks}, status=200 if ready else 503)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    # prometheus-client's multiprocess mode (gunicorn.conf.py sets the directory).
    body = render_metrics(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
    return HttpResponse(body, content_type="text/plain; version=0.0.4; charset=utf-8")
