"""Fault injection for tests: make the token endpoint fail on demand. Off unless enabled.

With ISSUER_ENABLE_FAULTS=1, `PUT /_faults` with JSON `{"grant_type": "refresh_token",
"mode": "ok" | "error503" | "hang" | "delay" | "ttl", "seconds": N}` changes how the token
endpoint answers that grant: 503, a hang of N seconds then 503, a delay of N seconds then the
real answer, or (`ttl`) the real answer with an access token expiring N seconds after issue.
`GET /_faults` shows the current setting. A production issuer fails like this when it is
overloaded or partitioned; the tests prove osapp rides it out. `ttl` lets a test sign in with
a token already near its expiry while refreshed tokens keep the normal lifetime, so waiting
for the refresh window takes a second, not most of a token lifetime.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

MODES = ("ok", "error503", "hang", "delay", "ttl")
_lock = threading.Lock()
_faults: dict[str, dict] = {}


@csrf_exempt
def faults_view(request: HttpRequest) -> HttpResponse:
    if not settings.ISSUER_CONFIG.enable_faults:
        return JsonResponse({"error": "not_found"}, status=404)
    if request.method == "PUT":
        try:
            body = json.loads(request.body)
            grant_type, mode = str(body["grant_type"]), str(body["mode"])
            seconds = float(body.get("seconds", 0))
        except (ValueError, KeyError, TypeError):
            return JsonResponse({"error": "invalid_request"}, status=400)
        if mode not in MODES:
            return JsonResponse({"error": "invalid_request", "modes": MODES}, status=400)
        with _lock:
            _faults[grant_type] = {"mode": mode, "seconds": seconds}
    with _lock:
        return JsonResponse(dict(_faults))


def access_token_ttl(grant_type: str | None) -> int | None:
    """The `ttl` set for `grant_type` (seconds), or None: the configured lifetime applies."""
    if not settings.ISSUER_CONFIG.enable_faults or not grant_type:
        return None
    with _lock:
        fault = _faults.get(grant_type)
    return int(fault["seconds"]) if fault and fault["mode"] == "ttl" else None


class FaultInjectionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.enabled = settings.ISSUER_CONFIG.enable_faults
        self.token_path = reverse("oauth2_provider:token")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.enabled and request.method == "POST" and request.path == self.token_path:
            with _lock:
                fault = _faults.get(request.POST.get("grant_type", ""))
            if fault and fault["mode"] not in ("ok", "ttl"):
                if fault["mode"] in ("hang", "delay"):
                    time.sleep(fault["seconds"])
                if fault["mode"] != "delay":
                    return JsonResponse({"error": "temporarily_unavailable"}, status=503)
        return self.get_response(request)
