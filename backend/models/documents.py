"""Trusted documents: the GraphQL operations partner tools may run.

A partner-agency investigator's or a reporting client's tool may run only a registered
document (``permissions.matrix.TRUSTED_DOCUMENTS_ONLY``), named by its hash or sent as the
exact registered text. The documents are committed in ``schema/documents/`` and loaded by
``manage.py load_documents``; nothing registers one on the fly.
"""

from __future__ import annotations

from django.db import models

__all__ = ["TrustedDocument"]


class TrustedDocument(models.Model):
    """One registered GraphQL document: its text, under the SHA-256 of that text."""

    hash = models.CharField(
        max_length=64,
        unique=True,
        help_text="SHA-256 of the document's UTF-8 text, lowercase hex (as Apollo's persisted "
        "queries compute it).",
    )
    name = models.CharField(
        max_length=100, unique=True, help_text="The name of its file in schema/documents/."
    )
    document = models.TextField(help_text="The document's text, exactly as registered.")
    registered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(hash__regex=r"^[0-9a-f]{64}$"),
                name="trusteddocument_hash_is_sha256_hex",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.hash[:12]})"
