"""Template tags of the claims component: `{% load claims_session %}`.

- `{% session_notice %}`: the quiet banner while renewal is failing or the session is ending
  (rendered from `claims/notice.html`; override that template to restyle it).
- `{% claims_url "login" %}`: the path of one of the component's views (`login`, `logout`,
  `session`, `callback`), wherever the project mounted `osapp.claims.urls`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import template

from ..session import resolution_of
from ..views import url_of

register = template.Library()


@register.inclusion_tag("claims/notice.html", takes_context=True)
def session_notice(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    notice = resolution_of(request).notice if request is not None else None
    if notice is None:
        return {"notice": None}
    return {"notice": {"kind": notice.kind.value, "until": datetime.fromtimestamp(notice.expires_at, tz=UTC)}}


@register.simple_tag(takes_context=True)
def claims_url(context: template.Context, name: str) -> str:
    return url_of(context.get("request"), name)
