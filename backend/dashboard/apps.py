from django.apps import AppConfig

__all__ = ["DashboardConfig"]


class DashboardConfig(AppConfig):
    """Installed for its templates and static files only: the dashboard has no models."""

    name = "backend.dashboard"
    label = "dashboard"
    verbose_name = "Analyst dashboard"
