"""Organizations, their members and projects: the issuer owns memberships; tokens carry them."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Organization(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.slug


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        ADMIN = "admin"
        MEMBER = "member"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=["user", "org"], name="issuer_membership_unique"),
        )

    def __str__(self) -> str:
        return f"{self.user_id}@{self.org_id}:{self.role}"


class Project(models.Model):
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="projects")
    slug = models.SlugField(max_length=50)
    name = models.CharField(max_length=100)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=["org", "slug"], name="issuer_project_slug_unique"),
        )

    def __str__(self) -> str:
        return f"{self.org_id}/{self.slug}"


class ProjectMember(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="members")

    class Meta:
        constraints = (
            models.UniqueConstraint(
                fields=["user", "project"], name="issuer_project_member_unique"
            ),
        )

    def __str__(self) -> str:
        return f"{self.user_id}@{self.project_id}"
