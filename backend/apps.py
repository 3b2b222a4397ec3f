from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig

__all__ = ["BackendConfig", "TipGraphAdminConfig"]


class BackendConfig(AppConfig):
    name = "backend"
    label = "backend"
    verbose_name = "Tips"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The model registry's and the retention schedule's system checks, and the grants
        # made after every migrate.
        from backend import database_roles, disposal_database, registry, retention  # noqa: F401

        database_roles.connect_signals()
        disposal_database.connect_signals()


class TipGraphAdminConfig(AdminConfig):
    """Django's admin, with our site: open to system administrators and program managers."""

    default_site = "backend.admin_site.TipGraphAdminSite"
