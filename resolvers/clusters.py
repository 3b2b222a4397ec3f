"""Tip link and link exclusion mutations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strawberry import relay
from strawberry.types import Info

from backend import models as m
from backend.services import linking as service
from resolvers.common import Outcome, acting_user, load, run

if TYPE_CHECKING:
    from schema.cluster import AddLinkExclusionInput, AddTipLinkInput, RemoveTipLinkInput

__all__ = ["add_link_exclusion", "add_tip_link", "remove_link_exclusion", "remove_tip_link"]


def add_tip_link(info: Info, data: AddTipLinkInput) -> Outcome:
    return run(
        lambda: service.add_manual_link(
            by=acting_user(info),
            from_tip=load(info, data.from_tip_id, m.Tip, field="fromTipId"),
            to_tip=load(info, data.to_tip_id, m.Tip, field="toTipId"),
            reason=data.reason,
        )
    )


def remove_tip_link(info: Info, data: RemoveTipLinkInput) -> Outcome:
    return run(
        lambda: service.remove_link(
            by=acting_user(info),
            link=load(info, data.link_id, m.TipLink, field="linkId"),
            reason=data.reason,
        )
    )


def add_link_exclusion(info: Info, data: AddLinkExclusionInput) -> Outcome:
    return run(
        lambda: service.add_link_exclusion(
            by=acting_user(info),
            kind=data.kind.value,
            value=data.value,
            qualifier=data.qualifier,
            reason=data.reason,
        )
    )


def remove_link_exclusion(info: Info, gid: relay.GlobalID) -> Outcome:
    return run(
        lambda: service.remove_link_exclusion(
            exclusion=load(info, gid, m.LinkExclusion, field="id")
        )
    )
