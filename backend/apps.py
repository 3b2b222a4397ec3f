from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig

__all__ = ["BackendConfig", "TipGraphAdminConfig"]


class BackendConfig(AppConfig):
    name = "backend"
    label = "backend"
    verbose_name = "Tips"
    default_auto_field = "django.db.models.BigAutoField"


class TipGraphAdminConfig(AdminConfig):
    """Django's admin, with our site: open to system administrators and program managers."""

    default_site = "backend.admin_site.TipGraphAdminSite"
