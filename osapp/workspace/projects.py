"""Creating a project: the one mutation that goes to the issuer, which owns memberships.

osapp calls the issuer's project API with the user's access token — re-read before every
attempt, since a concurrent request may have rotated it — retries transient failures only,
then renews the session through the coordinator so the new project is in the claims before
the user lands on it (DESIGN §8).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import httpx
from asgiref.sync import async_to_sync
from django.conf import settings
from django.http import HttpRequest

from osapp.claims import Org, Principal, current_tokens, refresh_now

log = logging.getLogger("osapp.workspace.projects")

ATTEMPTS = 3
TIMEOUT_SECONDS = 10.0


class ProjectCreationFailed(Exception):
    """Creation did not happen; the message is fit to show the user."""


@dataclass(frozen=True)
class CreatedProject:
    id: str
    slug: str


def _follow_rotation(request: HttpRequest) -> None:
    """After a 401, learn the newest tokens (a concurrent request may have rotated them)."""
    async_to_sync(refresh_now)(request, lambda principal: True)


def _post(url: str, access_token: str, org: Org, name: str) -> httpx.Response:
    return httpx.post(
        url,
        json={"org": org.slug, "name": name},
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=TIMEOUT_SECONDS,
    )


def create_project(request: HttpRequest, org: Org, name: str) -> CreatedProject:
    unavailable = ProjectCreationFailed("The project service is unavailable. Try again in a moment.")
    response: httpx.Response | None = None
    for attempt in range(1, ATTEMPTS + 1):
        access_token, _ = current_tokens(request)  # afresh per attempt
        if access_token is None:
            raise ProjectCreationFailed("Your session has ended. Sign in again.")
        try:
            response = _post(settings.OSAPP_PROJECTS_API, access_token, org, name)
        except httpx.HTTPError as exc:
            log.warning("project api attempt=%d failed: %s", attempt, type(exc).__name__)
            response = None
        if response is not None and response.status_code == 401 and attempt < ATTEMPTS:
            _follow_rotation(request)
        elif response is not None and response.status_code < 500:
            break
        elif attempt < ATTEMPTS:
            time.sleep(0.3 * attempt)  # transient: network error or 5xx
    if response is None or response.status_code >= 500:
        raise unavailable
    body = _json(response)
    if response.status_code == 201:
        created = CreatedProject(id=str(body.get("id")), slug=str(body.get("slug")))
        log.info("project created org=%s project=%s", org.slug, created.slug)
        return created
    if response.status_code == 403:
        raise ProjectCreationFailed(f"You cannot create projects in {org.name}.")
    if response.status_code == 409:
        raise ProjectCreationFailed(f"{org.name} already has a project with that name.")
    if response.status_code == 401:
        raise ProjectCreationFailed("Your session has ended. Sign in again.")
    error = body.get("error")
    raise ProjectCreationFailed(error[:200] if isinstance(error, str) else "The project could not be created.")


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def renew_with(request: HttpRequest, created: CreatedProject) -> Principal | None:
    """Renew the session until its claims include the new project."""
    return async_to_sync(refresh_now)(request, lambda principal: principal.project(created.id) is not None)
