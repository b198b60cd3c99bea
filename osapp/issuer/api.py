"""The API: ``POST /api/projects`` creates a project in an organization;
``POST /api/sessions/revoke`` signs the caller out of every device.

The caller presents an access token of this issuer (``Authorization: Bearer``, RFC 6750 §2.1)
and must be an owner or admin of the organization. The new project's creator becomes its
first member, so the next access token (after a refresh) lists it in ``projects``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.utils.text import slugify
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from oauth2_provider.oauth2_backends import get_oauthlib_core

from osapp.issuer.models import Membership, Organization, Project, ProjectMember
from osapp.issuer.push import send_claims_change, send_logout

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_SLUG_LENGTH = 50
MAX_NAME_LENGTH = 100
CREATOR_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN)


class BadInput(ValueError):
    """The request body is not a valid project creation."""


def _error(status: int, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def _unauthorized(request: HttpRequest) -> JsonResponse:
    # RFC 6750 §3.1: no error code when the request carried no credentials at all.
    if "HTTP_AUTHORIZATION" not in request.META:
        return _error(401, "authentication required", **{"WWW-Authenticate": "Bearer"})
    return _error(
        401,
        "invalid, expired or revoked access token",
        **{"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def _parse(body: bytes) -> tuple[str, str, str]:
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise BadInput("body must be JSON") from None
    if not isinstance(data, dict):
        raise BadInput("body must be a JSON object")
    org, name, slug = data.get("org"), data.get("name"), data.get("slug")
    if not isinstance(org, str) or not org:
        raise BadInput("org (an organization slug) is required")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME_LENGTH:
        raise BadInput(f"name is required, at most {MAX_NAME_LENGTH} characters")
    name = name.strip()
    if slug is None:
        slug = slugify(name)[:MAX_SLUG_LENGTH].strip("-")
    if not isinstance(slug, str) or len(slug) > MAX_SLUG_LENGTH or not SLUG_PATTERN.match(slug):
        raise BadInput("slug must be lowercase letters, digits and single hyphens")
    return org, name, slug


@csrf_exempt  # bearer-authenticated, no cookies involved
@require_POST
def create_project(request: HttpRequest) -> JsonResponse:
    body = request.body  # read before the OAuth core touches the request stream
    valid, oauth_request = get_oauthlib_core().verify_request(request, scopes=[])
    if not valid or oauth_request is None or oauth_request.user is None:
        return _unauthorized(request)
    user: Any = oauth_request.user
    try:
        org_slug, name, slug = _parse(body)
    except BadInput as error:
        return _error(400, str(error))
    membership = (
        Membership.objects.filter(user=user, org__slug=org_slug).select_related("org").first()
    )
    # An unknown organization answers like a foreign one: existence is not disclosed.
    if membership is None or membership.role not in CREATOR_ROLES:
        return _error(403, "only an owner or admin of the organization may create projects")
    org: Organization = membership.org
    try:
        with transaction.atomic():
            project = Project.objects.create(org=org, slug=slug, name=name)
            ProjectMember.objects.create(user=user, project=project)
    except IntegrityError:
        return _error(409, f"the slug {slug!r} is taken in {org.slug}")
    send_claims_change(str(user.pk))  # the creator's `projects` claim changed
    return JsonResponse(
        {"id": str(project.pk), "slug": project.slug, "name": project.name, "org_id": str(org.pk)},
        status=201,
    )


@csrf_exempt  # bearer-authenticated, no cookies involved
@require_POST
def sign_out_everywhere(request: HttpRequest) -> JsonResponse:
    """``POST /api/sessions/revoke``: end every session of the caller ("sign out of all
    devices"): their tokens are revoked here and a Logout Token goes to each client."""
    valid, oauth_request = get_oauthlib_core().verify_request(request, scopes=[])
    if not valid or oauth_request is None or oauth_request.user is None:
        return _unauthorized(request)
    user: Any = oauth_request.user
    from oauth2_provider.models import get_access_token_model, get_refresh_token_model

    revoked = 0
    for refresh in get_refresh_token_model().objects.filter(user=user, revoked__isnull=True):
        refresh.revoke()
        revoked += 1
    get_access_token_model().objects.filter(user=user).delete()
    send_logout(str(user.pk))
    return JsonResponse({"revoked_refresh_tokens": revoked}, status=200)
