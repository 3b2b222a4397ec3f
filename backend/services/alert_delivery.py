"""Delivery of committed alerts to their live subscribers (``schema.subscriptions``).

An alert is a row first (``backend.services.alerts``), delivered once the transaction that
wrote it commits: each addressee's group on the channel layer (``settings.CHANNEL_LAYERS``:
PostgreSQL LISTEN/NOTIFY by default, Redis when configured) gets one message naming the ids
of its new alerts, never their content; the subscriber's process reads the rows itself, checks
that the subscriber may still see them, and audits what it delivers. A delivery that fails is
logged and lost only for the live socket: the rows stay for the ``alerts`` query.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db.models import QuerySet

from backend.channel_layer import PostgresNotifyLayer, notify_in_transaction
from backend.models import Alert, Role
from permissions.scoping import scope_queryset

__all__ = [
    "ALERT_MESSAGE",
    "account_group",
    "deliver",
    "group_of",
    "live_groups",
    "office_group",
    "readable_alerts",
]

log = logging.getLogger(__name__)

#: The channel layer message type of new alerts (``{"type": ..., "alerts": [ids]}``).
ALERT_MESSAGE = "alerts.created"
#: How many alert ids one message carries at most (a notification holds 8,000 bytes).
IDS_PER_MESSAGE = 500


def account_group(account_id: int) -> str:
    """The channel layer group of one account's live alerts."""
    return f"alerts.account.{account_id}"


def office_group(office_id: int) -> str:
    """The channel layer group of the live alerts of one office's analysts."""
    return f"alerts.office.{office_id}"


def group_of(recipient_id: int | None, office_id: int | None) -> str:
    """The group an alert addressed to ``recipient_id`` or ``office_id`` goes to."""
    return account_group(recipient_id) if recipient_id is not None else office_group(office_id or 0)


def live_groups(user: Any) -> list[str]:
    """The groups whose alerts ``user`` receives live: their own, and an analyst's office's
    (the alerts ``permissions.scoping`` lets them read)."""
    groups = [account_group(user.pk)]
    if user.role == Role.ANALYST and user.office_id is not None:
        groups.append(office_group(user.office_id))
    return groups


def readable_alerts(user: Any) -> QuerySet[Alert]:
    """The alerts ``user`` may read now (``permissions.scoping``), to deliver live."""
    return scope_queryset(Alert.objects.all(), user)


def _by_group(alert_ids: Iterable[int]) -> dict[str, list[int]]:
    grouped: defaultdict[str, list[int]] = defaultdict(list)
    rows = Alert.objects.filter(pk__in=list(alert_ids)).values_list(
        "pk", "recipient_id", "office_id"
    )
    for pk, recipient_id, office_id in rows.order_by("pk"):
        grouped[group_of(recipient_id, office_id)].append(pk)
    return grouped


def deliver(alert_ids: list[int]) -> None:
    """Tell the subscribers of each addressee of ``alert_ids`` (committed rows of
    ``backend.Alert``) that they have new alerts: one message per addressee, in one statement
    for the rows and one notification per addressee. Called by ``backend.services.alerts``
    in ``transaction.on_commit``; never raises (the rows wait for the ``alerts`` query)."""
    if not alert_ids:
        return
    try:
        layer = get_channel_layer()
        for group, ids in _by_group(alert_ids).items():
            for start in range(0, len(ids), IDS_PER_MESSAGE):
                message = {"type": ALERT_MESSAGE, "alerts": ids[start : start + IDS_PER_MESSAGE]}
                if isinstance(layer, PostgresNotifyLayer):
                    notify_in_transaction(group=group, message=message, using=layer.alias)
                else:
                    async_to_sync(layer.group_send)(group, message)
    except Exception:
        log.exception(
            "live delivery of %d alerts failed; they wait for the alerts query", len(alert_ids)
        )
