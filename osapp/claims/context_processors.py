"""Template context: the quiet session notice (refresh failing, or session ending at HH:MM)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.http import HttpRequest


def session_notice(request: HttpRequest) -> dict:
    notice = getattr(request, "claims_notice", None)
    if notice is None:
        return {"session_notice": None}
    until = datetime.fromtimestamp(notice.expires_at, tz=UTC)
    return {"session_notice": {"kind": notice.kind, "until": until}}
