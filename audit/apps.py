from django.apps import AppConfig

__all__ = ["AuditConfig"]


class AuditConfig(AppConfig):
    name = "audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from audit import protections, signals

        signals.connect()
        protections.connect_signals()
