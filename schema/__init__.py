"""The GraphQL schema: one module per entity, merged here."""

from __future__ import annotations

import strawberry
import strawberry_django
from django.conf import settings
from strawberry import relay
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry_django.optimizer import DjangoOptimizerExtension

from audit.operations import AuditExtension
from permissions.classes import allow
from permissions.matrix import describe
from schema.account import AccountQuery
from schema.alert import AlertMutation, AlertQuery
from schema.audit import AuditQuery
from schema.caveat import DisseminationCaveat
from schema.cluster import ClusterMutation, ClusterQuery
from schema.deconfliction import DeconflictionMutation, DeconflictionQuery
from schema.disclosure import DisclosureQuery
from schema.document_cache import CachedDocuments
from schema.extensions import ErrorCodes, RequireAuthentication
from schema.identifier import IdentifierMutation, IdentifierQuery
from schema.intake import IntakeMutation, IntakeQuery
from schema.lead import LeadMutation, LeadQuery
from schema.limits import OperationLimits
from schema.lookup import LookupQuery
from schema.note import NoteMutation
from schema.partner_statistics import PartnerStatisticsQuery
from schema.redress import RedressMutation, RedressQuery
from schema.removal import RemovalMutation
from schema.research import ResearchMutation, ResearchQuery
from schema.retention import RetentionMutation, RetentionQuery
from schema.safe_methods import RefuseWritesOverGet
from schema.scalars import SCALAR_OVERRIDES
from schema.screening import ScreeningQuery
from schema.source import SourceMutation, SourceQuery
from schema.statistics import StatisticsQuery
from schema.subject import SubjectMutation, SubjectQuery
from schema.subscriptions import Subscription, TipGraphSchema
from schema.tip import TipMutation, TipQuery
from schema.trusted_documents import TrustedDocuments
from schema.viewer import ViewerQuery

__all__ = ["schema"]


@strawberry.type
class NodeQuery:
    node: relay.Node | None = strawberry_django.node(
        extensions=allow("Query.node"),
        description=describe("Query.node", "Fetch any record by its global id."),
    )


Query = merge_types(
    "Query",
    (
        NodeQuery,
        ViewerQuery,
        TipQuery,
        SubjectQuery,
        IdentifierQuery,
        LeadQuery,
        SourceQuery,
        ResearchQuery,
        ClusterQuery,
        LookupQuery,
        ScreeningQuery,
        AccountQuery,
        AuditQuery,
        DeconflictionQuery,
        IntakeQuery,
        StatisticsQuery,
        RetentionQuery,
        DisclosureQuery,
        PartnerStatisticsQuery,
        AlertQuery,
        RedressQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        TipMutation,
        SubjectMutation,
        IdentifierMutation,
        LeadMutation,
        SourceMutation,
        ResearchMutation,
        NoteMutation,
        RemovalMutation,
        ClusterMutation,
        DeconflictionMutation,
        IntakeMutation,
        RetentionMutation,
        AlertMutation,
        RedressMutation,
    ),
)

schema = TipGraphSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,  # served on the WebSocket only (schema.subscriptions)
    config=StrawberryConfig(
        relay_max_results=settings.GRAPHQL_MAX_RESULTS,
        batching_config={"max_operations": settings.GRAPHQL_MAX_BATCH},
    ),
    scalar_overrides=SCALAR_OVERRIDES,  # type: ignore[arg-type]
    extensions=[
        AuditExtension,
        ErrorCodes,  # inside the audit extension: the audit row records the codes it sets
        RequireAuthentication,
        TrustedDocuments,  # a hash runs its registered text; partner tools run nothing else
        RefuseWritesOverGet,  # GET runs no mutation and no query that records something
        DisseminationCaveat,
        OperationLimits,  # depth, cost, page sizes, cursors, input sizes: before anything runs
        lambda: MaxAliasesLimiter(max_alias_count=settings.GRAPHQL_MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=settings.GRAPHQL_MAX_TOKENS),
        CachedDocuments,  # after every extension adding validation rules: it runs them
        DjangoOptimizerExtension,
    ],
)
