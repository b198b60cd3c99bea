from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    name = "osapp.workspace"
    label = "workspace"
    verbose_name = "Workspace"
