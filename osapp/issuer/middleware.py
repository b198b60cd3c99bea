"""The request log: one JSON line per request, so tests can count what reached the issuer.

Each line is ``{"ts", "method", "path", "status", "grant_type"}``. The path carries no query
string (authorization codes and `state` travel there) and nothing else from the request is
recorded: no token, code, password or secret is ever written.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

_write_lock = threading.Lock()


def append_line(path: Path, entry: dict[str, object]) -> None:
    line = json.dumps(entry, separators=(",", ":")) + "\n"
    # Opened per line in append mode: each write lands whole at the end (O_APPEND), and
    # closing flushes it, so a reader never sees a partial entry.
    with _write_lock, path.open("a", encoding="utf-8") as handle:
        handle.write(line)


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.log_path: Path = settings.ISSUER_CONFIG.request_log
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.token_path = reverse("oauth2_provider:token")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.time()
        response = self.get_response(request)
        append_line(
            self.log_path,
            {
                "ts": started,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "grant_type": self._grant_type(request),
            },
        )
        return response

    def _grant_type(self, request: HttpRequest) -> str | None:
        if request.method != "POST" or request.path != self.token_path:
            return None
        # Read after the view ran, so the form is parsed from the body the view already read.
        grant_type = request.POST.get("grant_type")
        return grant_type if grant_type else None
