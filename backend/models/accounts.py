"""Accounts: users with one role each, and hashed API tokens for tools."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

__all__ = ["ApiToken", "Role", "User"]


class Role(models.TextChoices):
    ANALYST = "ANALYST", "Analyst"
    INVESTIGATOR = "INVESTIGATOR", "Investigator (partner-agency targeting officer)"
    PROGRAM_MANAGER = "PROGRAM_MANAGER", "Program manager"
    SYSTEM_ADMINISTRATOR = "SYSTEM_ADMINISTRATOR", "System administrator"
    AUDITOR = "AUDITOR", "Auditor"
    REPORTING_CLIENT = "REPORTING_CLIENT", "Reporting client"


class User(AbstractUser):
    """A person or tool with access to the platform. Each account has exactly one role.

    Access follows the lifecycle of the PIA: a supervisor nominates the user, the user is
    trained and certified, a system administrator reviews compliance, the program manager
    gives final approval, and the user accepts the rules of behaviour. Annual privacy and
    security training must stay current. ``permissions.lifecycle`` says whether an account
    may act, and why not.
    """

    role = models.CharField(max_length=32, choices=Role.choices, default=Role.ANALYST)
    agency = models.CharField(max_length=100, blank=True, help_text="Agency the user works for.")
    office = models.ForeignKey(
        "backend.Office", null=True, blank=True, on_delete=models.SET_NULL, related_name="users"
    )
    nominated_by = models.CharField(
        max_length=150, blank=True, help_text="The supervisor who nominated this user."
    )
    nominated_at = models.DateTimeField(null=True, blank=True)
    certified_at = models.DateTimeField(
        null=True, blank=True, help_text="Completed application training and certification."
    )
    compliance_reviewed_at = models.DateTimeField(null=True, blank=True)
    compliance_reviewed_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The system administrator who reviewed compliance.",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The program manager who gave final approval.",
    )
    rules_accepted_at = models.DateTimeField(
        null=True, blank=True, help_text="Accepted the rules of behaviour."
    )
    annual_training_at = models.DateTimeField(
        null=True, blank=True, help_text="Last annual privacy and security training."
    )
    annual_training_recorded_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Who recorded the last annual training (never the account itself).",
    )
    privileges_reviewed_at = models.DateTimeField(
        null=True, blank=True, help_text="Last review of this account's privileges."
    )
    last_activity_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="user_role_valid")
        ]


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def usable(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class ApiToken(models.Model):
    """A bearer token for tools. Only its SHA-256 hash is stored; the secret is shown once."""

    PREFIX = "tg_"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tokens"
    )
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    @classmethod
    def issue(cls, *, user: User, name: str, days: int) -> tuple[ApiToken, str]:
        """Create a token valid for ``days`` days; returns the row and the one-time secret."""
        days = max(1, min(days, settings.API_TOKEN_MAX_DAYS))
        raw = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            key_hash=hash_token(raw),
            expires_at=timezone.now() + timedelta(days=days),
        )
        return token, raw

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()
