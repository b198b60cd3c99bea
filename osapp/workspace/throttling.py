"""Event appends per user: django-ninja's rate throttling, keyed on the Principal.

The rate is `settings.OSAPP_EVENT_RATE` (env `OSAPP_EVENT_RATE`, default "60/min"; ninja's
format `<requests>/<period>`, e.g. "100/5m"), read per request. The key is the claims' user id,
so the cookie session and bearer tokens of one user share one count. Past it the API answers
429 `throttled` with `Retry-After` (ninja sets it from `wait()`).

Scope: the counts live in Django's default cache — Redis when `OSAPP_REDIS_URL` is set (one
count across every worker and host), otherwise each worker process's memory (with
`WEB_CONCURRENCY=N` workers a user may append up to N times the rate). As ninja's docs warn,
the count is read-modify-write, not atomic: concurrent appends can slip a few past the limit.
It bounds floods; it is no exact quota. A cache outage fails open (logged): appends go on.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.throttling import SimpleRateThrottle

from osapp.claims import Principal

log = logging.getLogger("osapp.workspace.throttling")


class _PerThread:
    """An attribute kept per thread: ninja shares one throttle object among all requests, and
    SimpleRateThrottle keeps the current request's key, history and time on `self`."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, throttle: Any, owner: type | None = None) -> Any:
        return getattr(throttle._per_thread, self.name)

    def __set__(self, throttle: Any, value: Any) -> None:
        setattr(throttle._per_thread, self.name, value)


class EventAppendThrottle(SimpleRateThrottle):
    scope = "event_append"
    key = _PerThread()
    history = _PerThread()
    now = _PerThread()

    def __init__(self) -> None:
        # Not super().__init__: it would fix the rate at import; this reads the setting.
        self._per_thread = threading.local()

    @property
    def rate(self) -> str:
        return str(settings.OSAPP_EVENT_RATE)

    @property
    def num_requests(self) -> int:
        return self.parse_rate(self.rate)[0] or 0

    @property
    def duration(self) -> int:
        return self.parse_rate(self.rate)[1] or 0

    def get_cache_key(self, request: HttpRequest) -> str | None:
        principal = getattr(request, "auth", None)
        if not isinstance(principal, Principal):
            return None  # not reached: authentication runs first and answers 401
        # Hashed: a cache key must be short and plain, whatever the issuer puts in `sub`.
        ident = hashlib.sha256(principal.user_id.encode("utf-8", "surrogatepass")).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request: HttpRequest) -> bool:
        self.parse_rate(self.rate)  # a bad rate is a configuration error (osapp.E010), not an outage
        try:
            return super().allow_request(request)
        except Exception as exc:  # noqa: BLE001 - the cache is down: serve, as without a limit
            log.warning("event throttle unavailable, request allowed: %s", type(exc).__name__)
            return True


def rate_error(rate: object) -> str | None:
    """Why `rate` is no throttle rate ninja can use; None when it is one."""
    try:
        count, period = EventAppendThrottle().parse_rate(str(rate))
    except ValueError:
        return f"{rate!r} is not <requests>/<period>, e.g. 60/min or 100/5m"
    if not count or not period or count < 1 or period < 1:
        return f"{rate!r}: the count and the period must both be positive"
    return None
