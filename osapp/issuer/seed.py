"""Demo data and the OAuth client, brought to the documented state on every start.

Idempotent: present rows are updated, missing ones created, nothing else is removed (projects
created through the API survive a restart). Passwords are set only when a user is created.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from oauth2_provider.models import get_application_model

from osapp.issuer.config import IssuerConfig
from osapp.issuer.models import Membership, Organization, Project, ProjectMember

ORGS = {"acme": "Acme Corp", "globex": "Globex Corporation", "initech": "Initech"}

PROJECTS = {
    ("acme", "website"): "Website",
    ("acme", "mobile-app"): "Mobile App",
    ("globex", "billing"): "Billing",
    ("globex", "analytics"): "Analytics",
    ("initech", "tps-reports"): "TPS Reports",
    ("initech", "printer"): "Printer",
}


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    first_name: str
    last_name: str
    roles: dict[str, str]
    projects: tuple[tuple[str, str], ...]

    @property
    def email(self) -> str:
        return f"{self.username}@example.test"


DEMO_USERS = (
    DemoUser(
        "alice",
        "alice-pass",
        "Alice",
        "Anders",
        roles={"acme": "owner"},
        projects=(("acme", "website"), ("acme", "mobile-app")),
    ),
    DemoUser(
        "bob",
        "bob-pass",
        "Bob",
        "Brown",
        roles={"acme": "member", "globex": "owner"},
        projects=(("acme", "website"), ("globex", "billing"), ("globex", "analytics")),
    ),
    DemoUser(
        "carol",
        "carol-pass",
        "Carol",
        "Chen",
        roles={"acme": "admin", "globex": "member", "initech": "owner"},
        projects=(
            ("acme", "mobile-app"),
            ("globex", "billing"),
            ("initech", "tps-reports"),
            ("initech", "printer"),
        ),
    ),
)


@transaction.atomic
def seed_demo_data() -> None:
    orgs = {}
    for slug, name in ORGS.items():
        orgs[slug], _ = Organization.objects.update_or_create(slug=slug, defaults={"name": name})
    projects = {}
    for (org_slug, slug), name in PROJECTS.items():
        projects[org_slug, slug], _ = Project.objects.update_or_create(
            org=orgs[org_slug], slug=slug, defaults={"name": name}
        )
    User = get_user_model()
    for demo in DEMO_USERS:
        user, created = User.objects.update_or_create(
            username=demo.username,
            defaults={
                "first_name": demo.first_name,
                "last_name": demo.last_name,
                "email": demo.email,
                "is_active": True,
            },
        )
        if created or not user.has_usable_password():
            user.set_password(demo.password)
            user.save(update_fields=["password"])
        for org_slug, role in demo.roles.items():
            Membership.objects.update_or_create(
                user=user, org=orgs[org_slug], defaults={"role": role}
            )
        for key in demo.projects:
            ProjectMember.objects.get_or_create(user=user, project=projects[key])


@transaction.atomic
def ensure_client(config: IssuerConfig) -> None:
    """The confidential client osapp signs in with, configured from the environment."""
    Application = get_application_model()
    application = Application.objects.filter(client_id=config.client_id).first()
    if application is None:
        application = Application(client_id=config.client_id)
    application.name = "osapp"
    application.client_type = Application.CLIENT_CONFIDENTIAL
    application.authorization_grant_type = Application.GRANT_AUTHORIZATION_CODE
    application.algorithm = Application.RS256_ALGORITHM
    application.skip_authorization = True
    application.redirect_uris = " ".join(config.redirect_uris)
    application.post_logout_redirect_uris = " ".join(config.post_logout_redirect_uris)
    application.hash_client_secret = True
    # Plaintext here; DOT's ClientSecretField hashes it on save.
    application.client_secret = config.client_secret
    application.save()
