from django.apps import AppConfig

__all__ = ["AuditConfig"]


class AuditConfig(AppConfig):
    name = "audit"
    label = "audit"
    verbose_name = "Audit log"
