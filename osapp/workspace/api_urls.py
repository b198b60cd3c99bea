"""The API's URL patterns: django-ninja's, with every answer under /api/ in the API's error shape.

Left alone, ninja answers a method a path does not serve with a text/plain 405, and a path no
endpoint matches falls through to Django's HTML 404 page. A client that branches on
`error.code` gets both in the one shape instead: 405 `method_not_allowed` (with `Allow`) and
404 `not_found`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.http.response import HttpResponseBase
from django.urls import URLPattern, URLResolver, re_path
from django.views.decorators.csrf import csrf_exempt

from .api import api, error_response

View = Callable[..., Any]


def api_urls() -> tuple[list[URLPattern | URLResolver], str, str]:
    """What `path("api/", ...)` includes: ninja's patterns, then a catch-all 404."""
    patterns, app_name, namespace = api.urls
    shaped = [_in_the_error_shape(p) if isinstance(p, URLPattern) else p for p in patterns]
    return [*shaped, re_path(r"", _unknown_path, name="unknown-path")], app_name, namespace


def _in_the_error_shape(pattern: URLPattern) -> URLPattern:
    if pattern.name == "api-root":
        # ninja's root view raises Django's HTML 404; ninja reverses the name, so keep it.
        view = _unknown_path
    else:
        view = _wrong_method_in_the_error_shape(pattern.callback)
    return URLPattern(pattern.pattern, view, pattern.default_args, pattern.name)


# Does nothing, so there is nothing for CSRF to protect; without the exemption a cookie-carrying
# POST to a mistyped path would get Django's HTML CSRF page instead of the 404.
@csrf_exempt
def _unknown_path(request: HttpRequest) -> HttpResponse:
    return error_response(
        request, 404, "not_found", "No such endpoint; /api/openapi.json lists them."
    )


def _shaped_405(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    if not isinstance(response, HttpResponseNotAllowed):
        return response
    allowed = response["Allow"]
    shaped = error_response(
        request, 405, "method_not_allowed", f"{request.method} is not allowed here; use {allowed}."
    )
    shaped["Allow"] = allowed  # RFC 9110 §15.5.6: a 405 must list the allowed methods
    return shaped


def _wrong_method_in_the_error_shape(view: View) -> View:
    # functools.wraps copies ninja's `csrf_exempt` marker along with the name.
    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            return _shaped_405(request, await view(request, *args, **kwargs))

        return async_view

    @functools.wraps(view)
    def sync_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return _shaped_405(request, view(request, *args, **kwargs))

    return sync_view
