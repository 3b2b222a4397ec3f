from django.apps import AppConfig

__all__ = ["PermissionsConfig"]


class PermissionsConfig(AppConfig):
    name = "permissions"
    label = "permissions"
    verbose_name = "Roles and access"
