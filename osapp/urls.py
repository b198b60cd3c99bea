"""Root URLs: operations, the claims component under /auth/, the product everywhere else."""

from django.urls import include, path

from osapp import ops
from osapp.workspace.api_urls import api_urls

urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("readyz", ops.readyz, name="readyz"),
    path("metrics", ops.metrics, name="metrics"),
    path("auth/", include("osapp.claims.urls")),
    path("api/", api_urls()),
    path("", include("osapp.workspace.urls")),
]
