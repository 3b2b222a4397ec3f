"""Alerts: written when the event happens, delivered once it is committed.

Every function here is set-based: one statement (two for a link alert, which is also a
disclosure) however many tips, records or notices it is given, and each hands the ids of the
alerts it wrote to ``backend.services.alert_delivery.deliver`` in ``transaction.on_commit``
(nothing is delivered for a transaction that rolls back).

To a **partner account** (an active investigator):

- ``raise_link_alerts``: a new or changed tip that a partner may see (``permissions.partner``:
  live, not OWNER_ONLY) and that *links* to a record a lookup of theirs returned within the
  disclosure period (``DISCLOSURE_REOPEN_DAYS``, the reopening window of
  ``permissions.scoping``): the tip holds an identifier they received, or names a person they
  received as a suspect. A link through a victim, a witness or a link between tips is never a
  reason: the partner rule lets a partner learn none of them. One open alert per account, tip
  and record (acknowledged ones do not stop a new one), and the alert is itself a disclosure
  of the tip (``Disclosure.alert``): it appears in the accounting with purpose ALERT and lets
  the partner open the tip for the reopening window.
- ``raise_correction_alerts``: a record they received (at any time: the Privacy Act asks that
  everyone who received a record be told of its correction, 5 U.S.C. 552a(c)(4)) was
  corrected or removed. It discloses nothing new.
- ``raise_redissemination_alerts``: the decision on a redissemination request of theirs.

To the **analysts of an office**: ``raise_notice_alerts`` (a deconfliction notice's copy for
the office) and ``raise_referral_alerts`` (a lead referred to the office).
"""

from __future__ import annotations

from collections.abc import Collection

from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Model
from django.utils import timezone

from backend import models as m
from backend.errors import InvalidInput
from backend.registry import type_name
from backend.services import alert_delivery
from permissions.scoping import disclosure_cutoff

__all__ = [
    "MAX_ACKNOWLEDGE",
    "acknowledge_alerts",
    "raise_correction_alerts",
    "raise_link_alerts",
    "raise_notice_alerts",
    "raise_redissemination_alerts",
    "raise_referral_alerts",
]

#: The most alerts one acknowledgement takes.
MAX_ACKNOWLEDGE = 100


def _deliver_on_commit(alert_ids: list[int]) -> list[int]:
    if alert_ids:
        ids = list(alert_ids)
        transaction.on_commit(lambda: alert_delivery.deliver(ids))
    return alert_ids


def _fetch(sql: str, params: dict[str, object]) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [pk for (pk,) in cursor.fetchall()]


_LINK_SQL = f"""
WITH tips AS MATERIALIZED (
    -- each tip by its key (LATERAL: an index look-up whatever the planner's statistics; in the
    -- middle of a bulk load they are stale, and a plan that filtered every live tip by the
    -- list grew with the table: 0.5 s a batch at 150,000 tips)
    SELECT t.id, t.source_reference
    FROM unnest(%(tips)s::bigint[]) AS u(id)
    CROSS JOIN LATERAL (
        SELECT t.id, t.source_reference FROM {m.Tip._meta.db_table} t
        WHERE t.id = u.id AND t.removed_at IS NULL AND t.handling_caveat <> %(owner_only)s
        LIMIT 1  -- (not pulled up into a join, which the statistics would plan again)
    ) t
), touched AS (
    SELECT s.tip_id, %(identifier_type)s AS content_type_id, s.identifier_id AS object_id
    FROM {m.TipIdentifier._meta.db_table} s JOIN tips ON tips.id = s.tip_id
    WHERE s.tip_id = ANY(%(tips)s)  -- (by the index: a join alone scanned every sighting)
    UNION
    SELECT l.tip_id, %(subject_type)s, l.subject_id
    FROM {m.TipSubject._meta.db_table} l JOIN tips ON tips.id = l.tip_id
    WHERE l.role = %(suspect)s AND l.tip_id = ANY(%(tips)s)
), received AS (
    SELECT DISTINCT t.tip_id, d.user_id, d.content_type_id, d.object_id
    FROM touched t
    JOIN {m.Disclosure._meta.db_table} d
      ON d.content_type_id = t.content_type_id AND d.object_id = t.object_id
     AND d.created_at > %(cutoff)s
    JOIN {m.User._meta.db_table} u
      ON u.id = d.user_id AND u.role = %(investigator)s AND u.is_active
), alerted AS (
    INSERT INTO {m.Alert._meta.db_table}
        (kind, created_at, recipient_id, tip_id, content_type_id, object_id, message)
    SELECT %(kind)s, %(now)s, r.user_id, r.tip_id, r.content_type_id, r.object_id,
           'Tip ' || tips.source_reference || ' ' || %(verb)s || ' and links to '
           || CASE WHEN r.content_type_id = %(subject_type)s THEN 'a person'
                   ELSE 'an identifier' END
           || ' a lookup of yours returned.'
    FROM received r JOIN tips ON tips.id = r.tip_id
    ORDER BY r.user_id, r.tip_id, r.content_type_id, r.object_id
    ON CONFLICT (recipient_id, tip_id, content_type_id, object_id)
        WHERE kind = 'LINKED_TIP' AND acknowledged_at IS NULL DO NOTHING
    RETURNING id, recipient_id, tip_id
), disclosed AS (
    INSERT INTO {m.Disclosure._meta.db_table}
        (alert_id, user_id, content_type_id, object_id, created_at)
    SELECT id, recipient_id, %(tip_type)s, tip_id, %(now)s FROM alerted
)
SELECT id FROM alerted ORDER BY id
"""


def raise_link_alerts(tip_ids: Collection[int], *, new: bool = False) -> list[int]:
    """Alert every partner account a new or changed tip of ``tip_ids`` links to (see the
    module), disclose the tip to them by the alert, in one statement whatever the number of
    tips; the ids of the alerts written (none for a tip already alerted and not yet
    acknowledged). ``new``: the tips were just received (the message says so)."""
    if not tip_ids:
        return []
    types = ContentType.objects.get_for_models(m.Tip, m.Subject, m.Identifier)
    ids = _fetch(
        _LINK_SQL,
        {
            "tips": sorted(set(tip_ids)),
            "owner_only": m.HandlingCaveat.OWNER_ONLY,
            "identifier_type": types[m.Identifier].pk,
            "subject_type": types[m.Subject].pk,
            "tip_type": types[m.Tip].pk,
            "suspect": m.SubjectRole.SUSPECT,
            "cutoff": disclosure_cutoff(),
            "investigator": m.Role.INVESTIGATOR,
            "kind": m.AlertKind.LINKED_TIP,
            "now": timezone.now(),
            "verb": "was received" if new else "changed",
        },
    )
    return _deliver_on_commit(ids)


_CORRECTION_SQL = f"""
INSERT INTO {m.Alert._meta.db_table}
    (kind, created_at, recipient_id, content_type_id, object_id, message)
SELECT DISTINCT %(kind)s, %(now)s::timestamptz, d.user_id, d.content_type_id, d.object_id,
       %(message)s || ' (' || %(type_name)s || ' ' || d.object_id || ').'
FROM {m.Disclosure._meta.db_table} d
JOIN {m.User._meta.db_table} u ON u.id = d.user_id AND u.role = %(investigator)s AND u.is_active
WHERE d.content_type_id = %(content_type)s AND d.object_id = ANY(%(ids)s)
RETURNING id
"""


def raise_correction_alerts(
    model: type[Model], pks: Collection[int], *, removed: bool
) -> list[int]:
    """Tell every partner account that ever received one of the ``model`` records ``pks``
    (a tip, a person or an identifier) that it was corrected (or ``removed``): one alert per
    account and record, in one statement; the ids of the alerts written."""
    if not pks:
        return []
    what = "was removed: do not rely on it" if removed else "was corrected: look it up again"
    ids = _fetch(
        _CORRECTION_SQL,
        {
            "kind": m.AlertKind.CORRECTION,
            "now": timezone.now(),
            "message": f"A record a lookup of yours returned {what}",
            "type_name": type_name(model),
            "investigator": m.Role.INVESTIGATOR,
            "content_type": ContentType.objects.get_for_model(model).pk,
            "ids": sorted(set(pks)),
        },
    )
    return _deliver_on_commit(ids)


_NOTICE_SQL = f"""
INSERT INTO {m.Alert._meta.db_table} (kind, created_at, office_id, notice_id, lead_id, message)
SELECT %(kind)s, %(now)s, r.office_id, r.id, n.lead_id, n.reason
FROM {m.NoticeRecipient._meta.db_table} r
JOIN {m.DeconflictionNotice._meta.db_table} n ON n.id = r.notice_id
WHERE r.id = ANY(%(ids)s)
ORDER BY r.id
RETURNING id
"""


def raise_notice_alerts(recipient_ids: Collection[int]) -> list[int]:
    """Alert the analysts of each office that received a copy (``NoticeRecipient``) of a
    deconfliction notice: one alert per copy, in one statement."""
    if not recipient_ids:
        return []
    ids = _fetch(
        _NOTICE_SQL,
        {"kind": m.AlertKind.DECONFLICTION, "now": timezone.now(), "ids": sorted(recipient_ids)},
    )
    return _deliver_on_commit(ids)


_REFERRAL_SQL = f"""
INSERT INTO {m.Alert._meta.db_table} (kind, created_at, office_id, lead_id, message)
SELECT %(kind)s, %(now)s, l.office_id, l.id, 'Lead ''' || l.title || ''' was referred to '
       || o.name || '.'
FROM {m.Lead._meta.db_table} l JOIN {m.Office._meta.db_table} o ON o.id = l.office_id
WHERE l.id = ANY(%(ids)s)
ORDER BY l.id
RETURNING id
"""


def raise_referral_alerts(lead_ids: Collection[int]) -> list[int]:
    """Alert the analysts of the office each lead of ``lead_ids`` is referred to: one alert
    per lead, in one statement."""
    if not lead_ids:
        return []
    ids = _fetch(
        _REFERRAL_SQL,
        {"kind": m.AlertKind.REFERRAL, "now": timezone.now(), "ids": sorted(lead_ids)},
    )
    return _deliver_on_commit(ids)


_REDISSEMINATION_SQL = f"""
INSERT INTO {m.Alert._meta.db_table}
    (kind, created_at, recipient_id, redissemination_id, content_type_id, object_id, message)
SELECT %(kind)s, %(now)s, q.requested_by_id, q.id, d.content_type_id, d.object_id,
       'Your request to pass a record on to ' || q.recipient || ' was '
       || lower(q.status) || '.'
       || CASE WHEN q.decision_reason <> '' THEN ' ' || q.decision_reason ELSE '' END
FROM {m.RedisseminationRequest._meta.db_table} q
JOIN {m.Disclosure._meta.db_table} d ON d.id = q.disclosure_id
WHERE q.id = ANY(%(ids)s) AND q.status <> 'PENDING'
ORDER BY q.id
RETURNING id
"""


def raise_redissemination_alerts(request_ids: Collection[int]) -> list[int]:
    """Tell each partner whose redissemination request of ``request_ids`` was decided: one
    alert per request, in one statement."""
    if not request_ids:
        return []
    ids = _fetch(
        _REDISSEMINATION_SQL,
        {
            "kind": m.AlertKind.REDISSEMINATION_DECIDED,
            "now": timezone.now(),
            "ids": sorted(request_ids),
        },
    )
    return _deliver_on_commit(ids)


@transaction.atomic
def acknowledge_alerts(*, alerts: list[m.Alert], by: m.User) -> list[m.Alert]:
    """Acknowledge ``alerts`` (each already checked visible to ``by``); refused as a whole
    (``InvalidInput``) when one is already acknowledged or there are too many."""
    if not alerts:
        raise InvalidInput("give at least one alert", field="ids")
    if len(alerts) > MAX_ACKNOWLEDGE:
        raise InvalidInput(
            f"at most {MAX_ACKNOWLEDGE} alerts per acknowledgement, got {len(alerts)}", field="ids"
        )
    pks = [alert.pk for alert in alerts]
    locked = list(m.Alert.objects.select_for_update().filter(pk__in=pks).order_by("pk"))
    done = [alert.pk for alert in locked if alert.acknowledged_at is not None]
    if done:
        raise InvalidInput(f"already acknowledged: alerts {done}", field="ids")
    now = timezone.now()
    m.Alert.objects.filter(pk__in=pks).update(acknowledged_at=now, acknowledged_by=by)
    for alert in locked:
        alert.acknowledged_at, alert.acknowledged_by = now, by
    return locked
