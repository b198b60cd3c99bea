"""Reading and appending a project's events; pages, the API and the live stream all use this.

Callers pass the (org, project) pair the Principal granted: authorization has already happened
against the claims, so nothing here trusts a project id from the request.
"""

from __future__ import annotations

from dataclasses import dataclass

from osapp.claims import Org, Principal, ProjectRef

from .live import publish_event
from .models import MAX_EVENT_CHARS, Event

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100


class InvalidEvent(ValueError):
    """The event text is empty, too long or unstorable; the message is fit to show the user."""


@dataclass(frozen=True)
class EventPage:
    events: list[Event]
    next_before: int | None  # pass as `before` to get the next (older) page


def list_events(project: ProjectRef, *, before: int | None = None, limit: int = DEFAULT_PAGE_SIZE) -> EventPage:
    """Newest first; `before` is the id to page back from (keyset pagination)."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    query = Event.objects.filter(project_id=project.id)
    if before is not None:
        query = query.filter(id__lt=before)
    events = list(query.order_by("-id")[: limit + 1])
    has_more = len(events) > limit
    events = events[:limit]
    return EventPage(events, events[-1].pk if has_more and events else None)


def clean_body(body: object) -> str:
    if not isinstance(body, str) or not body.strip():
        raise InvalidEvent("Write something to post.")
    body = body.strip()
    if len(body) > MAX_EVENT_CHARS:
        raise InvalidEvent(f"Events are at most {MAX_EVENT_CHARS} characters.")
    if "\x00" in body:  # PostgreSQL text cannot hold NUL; forms reach here without the API's schema
        raise InvalidEvent("Events cannot contain the NUL character.")
    return body


def append_event(principal: Principal, org: Org, project: ProjectRef, body: object) -> Event:
    event = Event.objects.create(
        project_id=project.id,
        org_id=org.id,
        author_id=principal.user_id,
        author_name=principal.name or principal.get_username(),
        body=clean_body(body),
    )
    publish_event(event)
    return event
