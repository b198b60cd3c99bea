from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    # Another path and another instance namespace than osapp's `auth/` and `claims`.
    path("accounts/", include("osapp.claims.urls", namespace="accounts")),
]
