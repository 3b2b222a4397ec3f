"""Automatic tip links: two tips that share a normalised identifier or a subject are linked.

Links are written set-based (one INSERT ... SELECT per kind) so that a single hand-entered tip
and a bulk load of thousands use the same code. Each link is stored in both directions.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

__all__ = ["link_tips"]

_SHARED_IDENTIFIER_SQL = """
INSERT INTO backend_tiplink
    (from_tip_id, to_tip_id, kind, identifier_id, subject_id, reason, created_at)
SELECT DISTINCT a.tip_id, b.tip_id, 'SHARED_IDENTIFIER', a.identifier_id, NULL::bigint,
       'Both tips contain ' || i.kind || ' ' || i.value, now()
FROM backend_tipidentifier a
JOIN backend_tipidentifier b ON b.identifier_id = a.identifier_id AND b.tip_id <> a.tip_id
JOIN backend_identifier i ON i.id = a.identifier_id
WHERE a.tip_id = ANY(%(ids)s) OR b.tip_id = ANY(%(ids)s)
ON CONFLICT DO NOTHING
"""

_SHARED_SUBJECT_SQL = """
INSERT INTO backend_tiplink
    (from_tip_id, to_tip_id, kind, identifier_id, subject_id, reason, created_at)
SELECT DISTINCT a.tip_id, b.tip_id, 'SHARED_SUBJECT', NULL::bigint, a.subject_id,
       'Both tips name subject ' || s.full_name, now()
FROM backend_tipsubject a
JOIN backend_tipsubject b ON b.subject_id = a.subject_id AND b.tip_id <> a.tip_id
JOIN backend_subject s ON s.id = a.subject_id
WHERE a.tip_id = ANY(%(ids)s) OR b.tip_id = ANY(%(ids)s)
ON CONFLICT DO NOTHING
"""


def link_tips(*, tip_ids: Iterable[int]) -> int:
    """Create the missing automatic links of ``tip_ids``; returns how many link rows were added."""
    ids = sorted(set(tip_ids))
    if not ids:
        return 0
    added = 0
    with connection.cursor() as cursor:
        for sql in (_SHARED_IDENTIFIER_SQL, _SHARED_SUBJECT_SQL):
            cursor.execute(sql, {"ids": ids})
            added += cursor.rowcount
    return added
