from django.apps import AppConfig

__all__ = ["BackendConfig"]


class BackendConfig(AppConfig):
    name = "backend"
    label = "backend"
    verbose_name = "Tips"
    default_auto_field = "django.db.models.BigAutoField"
