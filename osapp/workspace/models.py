"""The project event stream: append-only, stored in osapp's own database.

Projects themselves live at the issuer and reach osapp only as claims; an event records the
claim ids it belongs to, never a foreign key to a local copy of the project.
"""

from __future__ import annotations

from django.db import models

MAX_EVENT_CHARS = 2000


class Event(models.Model):
    project_id = models.CharField(max_length=200, db_index=False)
    org_id = models.CharField(max_length=200)
    author_id = models.CharField(max_length=200)
    author_name = models.CharField(max_length=200)
    body = models.TextField(max_length=MAX_EVENT_CHARS)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["project_id", "-id"], name="event_project_newest")]
        ordering = ["-id"]

    def save(self, *args, **kwargs) -> None:
        # Append-only: an event, once written, is never changed.
        if self.pk is not None and not self._state.adding:
            raise ValueError("events are append-only")
        super().save(*args, **kwargs)

    def as_dict(self) -> dict:
        return {
            "id": self.pk,
            "project_id": self.project_id,
            "author": {"id": self.author_id, "name": self.author_name},
            "body": self.body,
            "created_at": self.created_at.isoformat(),
        }
