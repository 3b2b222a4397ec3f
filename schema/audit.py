"""The auditor's API: search the audit log, see who saw or changed a record, and count
partner-agency queries per day."""

from __future__ import annotations

import datetime

import strawberry
import strawberry_django
from django.db.models import QuerySet
from strawberry import relay
from strawberry.types import Info
from strawberry_django.relay import DjangoListConnection

from audit.models import AuditEvent
from audit.search import AuditSearch
from permissions.classes import allow
from permissions.matrix import describe
from resolvers import audit as resolve
from schema.base import ScopedNode, model_type

__all__ = ["AuditEventFilterInput", "AuditEventType", "AuditQuery", "InvestigatorDay"]


@model_type(AuditEvent)
class AuditEventType(ScopedNode):
    """One audited operation, login, logout, failed login or lockout."""

    seq: int
    occurred_at: datetime.datetime
    kind: str
    username: str
    role: str
    auth_method: str
    client_address: str | None
    user_agent: str
    operation_type: str
    operation_name: str
    outcome: str
    error_codes: list[str]
    duration_ms: float | None
    records_returned: list[str]
    records_changed: list[str]

    @strawberry_django.field(only=["query_hash_id"], description="SHA-256 of the query text.")
    def query_hash(self, root: AuditEvent) -> str | None:
        return root.query_hash_id

    @strawberry_django.field(
        select_related=["query_hash"], only=["query_hash__text"], description="The query text."
    )
    def query(self, root: AuditEvent) -> str | None:
        return root.query_hash.text if root.query_hash_id else None

    @strawberry_django.field(only=["variables"], description="The operation's variables.")
    def variables(self, root: AuditEvent) -> strawberry.scalars.JSON:
        return root.variables


@strawberry.input(description="Audit log search; every field narrows the result.")
class AuditEventFilterInput:
    username: str | None = None
    role: str | None = None
    kind: str | None = None
    outcome: str | None = None
    operation_name: str | None = None
    occurred_from: datetime.datetime | None = None
    occurred_to: datetime.datetime | None = None
    record_id: relay.GlobalID | None = strawberry.field(
        default=None, description="Only operations whose answer contained or changed this record."
    )
    seen_only: bool = strawberry.field(
        default=False, description="With recordId: only operations whose answer contained it."
    )

    def search(self) -> AuditSearch:
        """The search as plain values, for the resolver."""
        return AuditSearch(
            username=self.username,
            role=self.role,
            kind=self.kind,
            outcome=self.outcome,
            operation_name=self.operation_name,
            occurred_from=self.occurred_from,
            occurred_to=self.occurred_to,
            record=None
            if self.record_id is None
            else (self.record_id.type_name, self.record_id.node_id),
            seen_only=self.seen_only,
        )


@strawberry.type(description="Partner-agency (investigator) operations on one day.")
class InvestigatorDay:
    day: datetime.date
    username: str
    operations: int
    lookups: int
    denied: int


@strawberry.type
class AuditQuery:
    @strawberry_django.connection(
        DjangoListConnection[AuditEventType],
        extensions=allow("Query.auditEvents"),
        description=describe(
            "Query.auditEvents",
            "Search the audit log by user, role, kind, outcome, operation and time, or ask "
            "who saw or changed a record (recordId).",
        ),
    )
    def audit_events(
        self, info: Info, where: AuditEventFilterInput | None = None
    ) -> QuerySet[AuditEvent]:
        return resolve.audit_events(None if where is None else where.search())

    @strawberry.field(
        extensions=allow("Query.investigatorQueryVolume"),
        description=describe(
            "Query.investigatorQueryVolume",
            "Operations by investigators per day and user, with traveller lookups and denials.",
        ),
    )
    def investigator_query_volume(
        self, info: Info, occurred_from: datetime.datetime, occurred_to: datetime.datetime
    ) -> list[InvestigatorDay]:
        rows = resolve.investigator_query_volume(
            occurred_from=occurred_from, occurred_to=occurred_to
        )
        return [InvestigatorDay(**row) for row in rows]
