"""Tip link and link exclusion mutations."""

from __future__ import annotations

from strawberry import relay
from strawberry.types import Info

from backend import models as m
from backend.services import linking as service
from resolvers.common import Outcome, acting_user, load, run

__all__ = ["add_link_exclusion", "add_tip_link", "remove_link_exclusion", "remove_tip_link"]


def add_tip_link(
    info: Info, *, from_tip_id: relay.GlobalID, to_tip_id: relay.GlobalID, reason: str
) -> Outcome:
    return run(
        lambda: service.add_manual_link(
            by=acting_user(info),
            from_tip=load(info, from_tip_id, m.Tip, field="fromTipId"),
            to_tip=load(info, to_tip_id, m.Tip, field="toTipId"),
            reason=reason,
        )
    )


def remove_tip_link(info: Info, *, link_id: relay.GlobalID, reason: str) -> Outcome:
    return run(
        lambda: service.remove_link(
            by=acting_user(info),
            link=load(info, link_id, m.TipLink, field="linkId"),
            reason=reason,
        )
    )


def add_link_exclusion(
    info: Info, *, kind: str, value: str, qualifier: str, reason: str
) -> Outcome:
    return run(
        lambda: service.add_link_exclusion(
            by=acting_user(info), kind=kind, value=value, qualifier=qualifier, reason=reason
        )
    )


def remove_link_exclusion(info: Info, gid: relay.GlobalID) -> Outcome:
    return run(
        lambda: service.remove_link_exclusion(
            exclusion=load(info, gid, m.LinkExclusion, field="id")
        )
    )
