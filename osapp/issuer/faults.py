"""Fault injection for tests: make the token endpoint fail on demand. Off unless enabled.

With ISSUER_ENABLE_FAULTS=1, `PUT /_faults` with JSON `{"grant_type": "refresh_token",
"mode": "ok" | "error503" | "hang" | "delay", "seconds": N}` changes how the token endpoint
answers that grant: 503, a hang of N seconds then 503, or a delay of N seconds then the real
answer. `GET /_faults` shows the current setting. A production issuer fails like this when it
is overloaded or partitioned; the tests prove osapp rides it out.
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

MODES = ("ok", "error503", "hang", "delay")
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


class FaultInjectionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.enabled = settings.ISSUER_CONFIG.enable_faults
        self.token_path = reverse("oauth2_provider:token")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.enabled and request.method == "POST" and request.path == self.token_path:
            with _lock:
                fault = _faults.get(request.POST.get("grant_type", ""))
            if fault and fault["mode"] != "ok":
                if fault["mode"] in ("hang", "delay"):
                    time.sleep(fault["seconds"])
                if fault["mode"] != "delay":
                    return JsonResponse({"error": "temporarily_unavailable"}, status=503)
        return self.get_response(request)
