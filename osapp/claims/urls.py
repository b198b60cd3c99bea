"""Routes of the claims component, mounted under `auth/`."""

from django.urls import path

from . import receivers, views

app_name = "claims"

urlpatterns = [
    path("login", views.login, name="login"),
    path("callback", views.callback, name="callback"),
    path("logout", views.logout, name="logout"),
    path("session", views.session, name="session"),
    path("backchannel-logout", receivers.backchannel_logout, name="backchannel_logout"),
    path("security-events", receivers.security_events, name="security_events"),
]
