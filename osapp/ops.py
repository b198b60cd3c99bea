"""Operational endpoints: `/healthz` (alive), `/readyz` (can serve), `/metrics` (Prometheus)."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from osapp.claims.errors import KeysUnavailable
from osapp.claims.metrics import render_metrics
from osapp.claims.refresh import BackendUnavailable, get_coordinator
from osapp.claims.verifier import get_verifier

log = logging.getLogger("osapp.health")


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, str] = {}
    try:
        keys = get_verifier().keys
        checks["keys"] = f"ok ({len(keys.kids)} from {keys.source})"
    except KeysUnavailable as exc:
        checks["keys"] = f"failing: {exc}"
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseError as exc:
        checks["database"] = f"failing: {type(exc).__name__}"
    coordinator = get_coordinator()
    try:
        async_to_sync(coordinator.backend.ping)()
        checks["coordinator"] = f"ok ({coordinator.backend.name})"
    except BackendUnavailable as exc:
        checks["coordinator"] = f"failing: {exc}"
    else:
        # DESIGN §6: a settings fault seen at the token endpoint by any worker, with these
        # settings; it clears itself on the next successful refresh or a settings change.
        fault = async_to_sync(coordinator.issuer_fault)()
        checks["issuer"] = (
            "ok" if fault is None else f"failing: settings fault, check {fault.setting}: {fault.reason}"
        )
    ready = all(value.startswith("ok") for value in checks.values())
    if not ready:
        log.warning("not ready: %s", checks)
    return JsonResponse({"ready": ready, "checks": checks}, status=200 if ready else 503)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse(render_metrics(), content_type="text/plain; version=0.0.4; charset=utf-8")
