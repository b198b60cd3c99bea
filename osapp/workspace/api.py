"""The JSON API under /api/ (django-ninja; OpenAPI at /api/openapi.json, docs at /api/docs).

Contract:
- Every endpoint needs a Principal: the browser session cookie (with the CSRF token in
  `X-CSRFToken` on unsafe methods) or `Authorization: Bearer <access token>`. Both give the
  same Principal and the same answers; a bearer token is never refreshed here.
- Authorization is the pages' rule (DESIGN §3): an organization or project that is not in the
  claims is a 404, whether or not it exists — never a 403 that would leak its existence.
- `<org>` and `<project>` in paths are slugs. Events are newest first; pass `next_before` back as
  `before` for the next (older) page.
- Every error has one shape, `{"error": {"code": ..., "message": ...}}`: 400 `invalid` (the
  event text, or a body that is not JSON), 401 `unauthorized` (with `WWW-Authenticate:
  Bearer`), 403 `csrf_failed`, 404 `not_found` (also any path under /api/ that is no
  endpoint), 405 `method_not_allowed` (with `Allow`), 413 `too_large` (a body over Django's
  `DATA_UPLOAD_MAX_MEMORY_SIZE`, 2.5 MB by default), 422 `invalid` (parameters or JSON fields
  of the wrong type or out of range, or a string holding NUL or a lone surrogate such as
  `"\\ud800"`), 429 `throttled` (event appends past `OSAPP_EVENT_RATE` per user, 60 a
  minute by default; `Retry-After` says when to try again), 500 `internal`. `code` is stable;
  `message` is for people.
"""

from __future__ import annotations

import logging
from typing import Annotated

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, NinjaAPI, Query, Schema, Status, Swagger
from ninja.errors import AuthenticationError, HttpError, ValidationError
from pydantic import field_validator
from pydantic_core import PydanticCustomError

from osapp.claims import BearerToken, CookieSession, CsrfRejected, Org, Principal, ProjectRef

from .events import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, InvalidEvent, append_event, list_events
from .models import MAX_EVENT_CHARS
from .throttling import EventAppendThrottle

log = logging.getLogger("osapp.workspace.api")

api = NinjaAPI(
    title="osapp API",
    version="1",
    description="Organizations, projects and project events, authorized from the token's claims.",
    urls_namespace="api",
    auth=[CookieSession(), BearerToken()],
    docs_url="/docs",
    # No validator badge: it would load an image from validator.swagger.io, which the CSP
    # (img-src 'self') blocks, and would tell swagger.io where our OpenAPI document lives.
    docs=Swagger(settings={"validatorUrl": "none"}),
)


# Schemas -------------------------------------------------------------------------------------


class ErrorDetail(Schema):
    code: str = Field(
        description=(
            "Stable, machine-readable: unauthorized, csrf_failed, not_found, too_large, "
            "invalid, throttled, …"
        )
    )
    message: str = Field(description="For people; may change.")


class ErrorOut(Schema):
    error: ErrorDetail


class OrgOut(Schema):
    id: str
    slug: str
    name: str
    role: str = Field(description="owner, admin or member")


class ProjectOut(Schema):
    id: str
    slug: str
    name: str
    org_id: str


class MeOut(Schema):
    id: str
    name: str
    email: str
    orgs: list[OrgOut]
    expires_at: int = Field(description="When the access token expires (Unix seconds).")


class AuthorOut(Schema):
    id: str
    name: str


class EventOut(Schema):
    id: int
    project_id: str
    author: AuthorOut
    body: str
    created_at: str = Field(json_schema_extra={"format": "date-time"}, description="ISO 8601, UTC.")


class EventPageOut(Schema):
    events: list[EventOut]
    next_before: int | None = Field(
        description="Pass as `before` for the next (older) page; null on the last."
    )


def _unstorable(value: object) -> str | None:
    """Why a value, or any string inside it, cannot be stored as text; None when it can."""
    if isinstance(value, str):
        if "\x00" in value:
            return "must not contain NUL (U+0000)"  # PostgreSQL text cannot hold it
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            # JSON may escape half of a UTF-16 pair ("\ud800"); it is no character at all.
            return "must be valid Unicode (no lone surrogates)"
        return None
    if isinstance(value, dict):
        return next(filter(None, map(_unstorable, [*value.keys(), *value.values()])), None)
    if isinstance(value, list | tuple | set | frozenset):
        return next(filter(None, map(_unstorable, value)), None)
    return None


class Input(Schema):
    """The base of every request body: no string anywhere in it holds NUL or a lone surrogate.

    Checked once here for every field, so a new field is covered without a word; the error
    names the field (422 `invalid`). Nested `Input` models check their own fields.
    """

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: object) -> object:
        problem = _unstorable(value)
        if problem is not None:
            raise PydanticCustomError("unstorable_text", problem)
        return value


class EventIn(Input):
    body: str = Field(
        description=f"The event text: not blank, at most {MAX_EVENT_CHARS} characters."
    )


def errors(*statuses: int) -> dict[int, type[ErrorOut]]:
    """The error statuses an endpoint documents, all in the one shape."""
    return {status: ErrorOut for status in statuses}


# Authorization from the claims -----------------------------------------------------------------


def _principal(request: HttpRequest) -> Principal:
    return request.auth  # type: ignore[attr-defined,no-any-return]


def _org(request: HttpRequest, org_slug: str) -> Org:
    org = _principal(request).org(org_slug)
    if org is None:
        raise Http404("No such organization.")
    return org


def _project(request: HttpRequest, org_slug: str, project_slug: str) -> tuple[Org, ProjectRef]:
    found = _principal(request).project_in(org_slug, project_slug)
    if found is None:
        raise Http404("No such project.")
    return found


def _org_out(org: Org) -> dict:
    return {"id": org.id, "slug": org.slug, "name": org.name, "role": org.role}


def _project_out(project: ProjectRef) -> dict:
    return {"id": project.id, "slug": project.slug, "name": project.name, "org_id": project.org_id}


# Endpoints -----------------------------------------------------------------------------------


@api.get("/me", response={200: MeOut, **errors(401)}, summary="Who the token is for")
def me(request: HttpRequest) -> dict:
    principal = _principal(request)
    return {
        "id": principal.user_id,
        "name": principal.name,
        "email": principal.email,
        "orgs": [_org_out(org) for org in principal.orgs],
        "expires_at": principal.expires_at,
    }


@api.get(
    "/orgs", response={200: list[OrgOut], **errors(401)}, summary="The organizations in the claims"
)
def orgs(request: HttpRequest) -> list[dict]:
    return [_org_out(org) for org in _principal(request).orgs]


@api.get(
    "/orgs/{org}/projects",
    response={200: list[ProjectOut], **errors(401, 404)},
    summary="An organization's projects",
)
def projects(request: HttpRequest, org: str) -> list[dict]:
    membership = _org(request, org)
    return [_project_out(p) for p in _principal(request).projects_in(membership)]


@api.get(
    "/orgs/{org}/projects/{project}",
    response={200: ProjectOut, **errors(401, 404)},
    summary="One project",
)
def project(request: HttpRequest, org: str, project: str) -> dict:
    _, project_ref = _project(request, org, project)
    return _project_out(project_ref)


@api.get(
    "/orgs/{org}/projects/{project}/events",
    response={200: EventPageOut, **errors(401, 404, 422)},
    summary="A project's events, newest first",
)
def events(
    request: HttpRequest,
    org: str,
    project: str,
    # Event ids are 64-bit: a larger `before` would overflow the database's integer.
    before: Annotated[
        int | None, Query(ge=1, lt=2**63, description="Only events older than this id.")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size.")
    ] = DEFAULT_PAGE_SIZE,
) -> dict:
    _, project_ref = _project(request, org, project)
    page = list_events(project_ref, before=before, limit=limit)
    return {"events": [event.as_dict() for event in page.events], "next_before": page.next_before}


@api.post(
    "/orgs/{org}/projects/{project}/events",
    response={201: EventOut, **errors(400, 401, 403, 404, 413, 422, 429)},
    summary="Append an event",
    description="At most `OSAPP_EVENT_RATE` appends per user (60/min by default); past it, 429.",
    throttle=EventAppendThrottle(),
)
def post_event(request: HttpRequest, org: str, project: str, payload: EventIn) -> Status[dict]:
    membership, project_ref = _project(request, org, project)
    event = append_event(_principal(request), membership, project_ref, payload.body)
    return Status(201, event.as_dict())


# Errors: one shape ---------------------------------------------------------------------------

CODES_BY_STATUS = {
    400: "invalid",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    422: "invalid",
    429: "throttled",
}


def error_response(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    return api.create_response(
        request, {"error": {"code": code, "message": message}}, status=status
    )


@api.exception_handler(AuthenticationError)
def _unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = error_response(
        request, 401, "unauthorized", "Sign in, or send Authorization: Bearer <access token>."
    )
    # RFC 6750 §3.1: name the error only when a token was presented.
    presented = request.headers.get("Authorization", "").lower().startswith("bearer ")
    response["WWW-Authenticate"] = 'Bearer error="invalid_token"' if presented else "Bearer"
    return response


@api.exception_handler(CsrfRejected)
def _csrf_failed(request: HttpRequest, exc: CsrfRejected) -> HttpResponse:
    return error_response(request, 403, "csrf_failed", exc.message)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = CODES_BY_STATUS.get(exc.status_code, "error")
    return error_response(request, exc.status_code, code, exc.message)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "not_found", str(exc) or "Not found.")


@api.exception_handler(RequestDataTooBig)
def _too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    # Raised when the body is first read (ninja's body parsing, or the CSRF check of a form
    # post); without this handler the outermost guard below would call it a 500.
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return error_response(request, 413, "too_large", f"The request body is over {limit} bytes.")


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = first.get("msg", "Invalid request.")
    return error_response(request, 422, "invalid", f"{where}: {message}" if where else message)


@api.exception_handler(InvalidEvent)
def _invalid_event(request: HttpRequest, exc: InvalidEvent) -> HttpResponse:
    return error_response(request, 400, "invalid", str(exc))


@api.exception_handler(Exception)
def _internal(request: HttpRequest, exc: Exception) -> HttpResponse:
    # The outermost guard: log the traceback, answer in the one shape, reveal nothing.
    log.exception("api error on %s %s", request.method, request.path)
    return error_response(request, 500, "internal", "Something went wrong on our side.")
