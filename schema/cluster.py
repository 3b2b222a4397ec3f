"""Clusters (linked tips seen as one matter), manual links and their removal, and the list of
identifier values never to link on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
import strawberry_django
from strawberry import auto, relay
from strawberry.types import Info
from strawberry_django.relay import DjangoListConnection

from backend import models as m
from backend.registry import type_name
from permissions.classes import allow
from permissions.matrix import describe
from resolvers import clusters as resolve
from schema.base import IdentifierKindEnum, MutationError, ScopedNode, model_type, mutation_errors

if TYPE_CHECKING:
    from schema.tip import TipLinkType, TipType

__all__ = [
    "AddLinkExclusionInput",
    "AddTipLinkInput",
    "ClusterFilter",
    "ClusterMutation",
    "ClusterOrder",
    "ClusterQuery",
    "ClusterType",
    "LinkExclusionPayload",
    "LinkExclusionType",
    "RemoveLinkExclusionPayload",
    "RemoveTipLinkInput",
    "TipLinkPayload",
]

TipRef = Annotated["TipType", strawberry.lazy("schema.tip")]
TipLinkRef = Annotated["TipLinkType", strawberry.lazy("schema.tip")]


@strawberry_django.filter_type(m.Cluster, lookups=True)
class ClusterFilter:
    size: auto


@strawberry_django.order_type(m.Cluster)
class ClusterOrder:
    size: auto
    created_at: auto
    updated_at: auto


@model_type(m.Cluster, filters=ClusterFilter, ordering=ClusterOrder)
class ClusterType(ScopedNode):
    """A matter: the tips connected by links (shared identifiers, shared subjects, manual
    links), kept up to date as tips arrive and links are removed."""

    size: int = strawberry_django.field(
        description="How many tips the cluster holds (removed tips included)."
    )
    created_at: auto
    updated_at: auto
    tips: DjangoListConnection[TipRef] = strawberry_django.connection(
        description="The tips of this cluster."
    )


@model_type(m.LinkExclusion)
class LinkExclusionType(ScopedNode):
    """An identifier value analysts decided never to link tips on (e.g. a shared public
    Wi-Fi address, a provider's support e-mail)."""

    kind: IdentifierKindEnum
    qualifier: auto
    value: auto
    reason: auto
    created_at: auto


@strawberry.input(description="Two tips to link by hand, and why.")
class AddTipLinkInput:
    from_tip_id: relay.GlobalID
    to_tip_id: relay.GlobalID
    reason: str


@strawberry.input(description="A wrong link to remove, and why.")
class RemoveTipLinkInput:
    link_id: relay.GlobalID
    reason: str


@strawberry.input(description="An identifier value never to link tips on, and why.")
class AddLinkExclusionInput:
    kind: IdentifierKindEnum
    value: str
    reason: str
    qualifier: str = strawberry.field(
        default="",
        description="Username platform, hash algorithm, passport country or payment provider.",
    )


@strawberry.type(description="The link a mutation added or removed, or why it did not.")
class TipLinkPayload:
    link: TipLinkRef | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type(description="The exclusion a mutation added, or why it did not.")
class LinkExclusionPayload:
    link_exclusion: LinkExclusionType | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type(description="The id of the exclusion a mutation removed, or why it did not.")
class RemoveLinkExclusionPayload:
    removed_id: relay.GlobalID | None = None
    errors: list[MutationError] = strawberry.field(default_factory=list)


@strawberry.type
class ClusterQuery:
    clusters: DjangoListConnection[ClusterType] = strawberry_django.connection(
        extensions=allow("Query.clusters"),
        description=describe(
            "Query.clusters", "Browse clusters of linked tips, largest first unless ordered."
        ),
    )
    link_exclusions: DjangoListConnection[LinkExclusionType] = strawberry_django.connection(
        extensions=allow("Query.linkExclusions"),
        description=describe("Query.linkExclusions", "The identifier values that never link tips."),
    )


@strawberry.type
class ClusterMutation:
    @strawberry.mutation(
        extensions=allow("Mutation.addTipLink"),
        description=describe(
            "Mutation.addTipLink",
            "Link two tips by hand, with a reason (required); merges their clusters. "
            "Returns the link from fromTipId to toTipId.",
        ),
    )
    def add_tip_link(self, info: Info, input: AddTipLinkInput) -> TipLinkPayload:
        obj, errors = resolve.add_tip_link(
            info, from_tip_id=input.from_tip_id, to_tip_id=input.to_tip_id, reason=input.reason
        )
        return TipLinkPayload(link=obj, errors=mutation_errors(errors))

    @strawberry.mutation(
        extensions=allow("Mutation.removeTipLink"),
        description=describe(
            "Mutation.removeTipLink",
            "Remove a wrong link (for both its tips), with a reason (required); its cluster is "
            "split if it falls apart. A removed automatic link is never re-created.",
        ),
    )
    def remove_tip_link(self, info: Info, input: RemoveTipLinkInput) -> TipLinkPayload:
        obj, errors = resolve.remove_tip_link(info, link_id=input.link_id, reason=input.reason)
        return TipLinkPayload(link=obj, errors=mutation_errors(errors))

    @strawberry.mutation(
        extensions=allow("Mutation.addLinkExclusion"),
        description=describe(
            "Mutation.addLinkExclusion",
            "Never link tips on this identifier value (normalised first); links it already "
            "made stay.",
        ),
    )
    def add_link_exclusion(self, info: Info, input: AddLinkExclusionInput) -> LinkExclusionPayload:
        obj, errors = resolve.add_link_exclusion(
            info,
            kind=input.kind.value,
            value=input.value,
            qualifier=input.qualifier,
            reason=input.reason,
        )
        return LinkExclusionPayload(link_exclusion=obj, errors=mutation_errors(errors))

    @strawberry.mutation(
        extensions=allow("Mutation.removeLinkExclusion"),
        description=describe(
            "Mutation.removeLinkExclusion",
            "Take a value off the exclusion list; tips sharing it are linked again.",
        ),
    )
    def remove_link_exclusion(self, info: Info, id: relay.GlobalID) -> RemoveLinkExclusionPayload:
        pk, errors = resolve.remove_link_exclusion(info, id)
        removed = None if pk is None else relay.GlobalID(type_name(m.LinkExclusion), str(pk))
        return RemoveLinkExclusionPayload(removed_id=removed, errors=mutation_errors(errors))
