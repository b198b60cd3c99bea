"""`readiness()`: whether this process can serve claims sessions, for a project's `/readyz`."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django.core.exceptions import ImproperlyConfigured

from .errors import KeysUnavailable
from .refresh import BackendUnavailable
from .runtime import get_runtime


def readiness() -> dict[str, str]:
    """One entry per part (`keys`, `revocations`, `coordinator`, `issuer`): `ok (…)` or
    `failing: …`."""
    try:
        runtime = get_runtime()
    except ImproperlyConfigured as exc:
        return {"settings": f"failing: {exc}"}
    checks: dict[str, str] = {}
    try:
        keys = runtime.verifier.keys
        checks["keys"] = f"ok ({len(keys.kids)} from {keys.source})"
    except KeysUnavailable as exc:
        checks["keys"] = f"failing: {exc}"
    # The live set this worker holds (the log's reader keeps it current).
    checks["revocations"] = f"ok ({runtime.revocation_log.name}, {len(runtime.revocations)} live)"
    coordinator = runtime.coordinator
    try:
        async_to_sync(coordinator.backend.ping)()
        checks["coordinator"] = f"ok ({coordinator.backend.name})"
    except BackendUnavailable as exc:
        checks["coordinator"] = f"failing: {exc}"
    else:
        # DESIGN §6: a settings fault seen at the token endpoint by any worker, with these
        # settings; it clears itself on the next successful refresh or a settings change.
        fault = async_to_sync(coordinator.issuer_fault)()
        checks["issuer"] = "ok" if fault is None else f"failing: settings fault, check {fault.setting}: {fault.reason}"
    return checks
