"""Proof that nothing was removed from or altered in the audit log.

The database numbers audit rows 1, 2, 3... and stores in each the hash of the previous row
(``prev_hash``) and its own hash over that and its content (``row_hash``, computed by the SQL
function ``audit_event_digest``). ``verify_chain`` walks the rows in order and reports the
first row where:

- ``seq`` skips a number: rows were removed;
- ``prev_hash`` is not the previous row's ``row_hash``: the chain was broken (a row before it
  was altered and re-hashed, or rows were removed and the rest renumbered);
- ``row_hash`` is not the digest of the row as it is now: the row was altered.

It also checks that every stored query text still hashes to its key.

The digest can be recomputed without the database (``tests/audit/test_writer.py`` does):
``sha256(prev_hash + "\\n" + canonical)`` in hex, where ``canonical`` is the jsonb text of an
object with the keys ``v`` (1), ``seq``, ``occurred_at`` (UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``),
``kind``, ``user_id``, ``username``, ``role``, ``auth_method``, ``client_address``,
``user_agent``, ``operation_type``, ``operation_name``, ``query_hash``, ``variables``,
``outcome``, ``error_codes``, ``duration_ms``, ``records_returned``, ``records_changed`` and
``context_id``: keys ordered shorter first then bytewise, ``", "`` and ``": "`` separators.

Removing the newest rows leaves a valid, shorter chain. To detect that, keep the head that a
run reports (``last_seq``, ``last_hash``) somewhere else and pass it back as ``anchor``: the
row must still be there with the same hash.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction

__all__ = ["Anchor", "VerifyReport", "verify_chain"]

#: Rows fetched per round trip from the server-side cursor.
BATCH_SIZE = 2000


@dataclass(frozen=True)
class Anchor:
    """A chain head recorded earlier: the row ``seq`` had the hash ``row_hash``."""

    seq: int
    row_hash: str


@dataclass(frozen=True)
class VerifyReport:
    """The result of ``verify_chain``."""

    ok: bool
    rows_checked: int
    first_problem: str | None = None
    last_seq: int | None = None
    last_hash: str | None = None
    query_texts_checked: int = 0
    #: The seq the problem is at (the first missing one, for removed rows).
    problem_seq: int | None = None

    def summary(self) -> str:
        if not self.ok:
            return f"audit log verification FAILED: {self.first_problem}"
        if not self.rows_checked:
            head = "the log is empty"
        else:
            head = f"seq 1..{self.last_seq}, head hash {self.last_hash}"
        return (
            f"audit log OK: {self.rows_checked} rows checked ({head}); "
            f"{self.query_texts_checked} query texts checked"
        )


def verify_chain(*, anchor: Anchor | None = None) -> VerifyReport:
    """Check the whole audit chain, streaming it in ``seq`` order; see the module docstring."""
    # A server-side cursor needs a transaction; one statement also gives one snapshot.
    with transaction.atomic():
        report = _verify_events(anchor)
        if not report.ok:
            return report
        texts_checked, problem = _verify_query_texts()
    return VerifyReport(
        ok=problem is None,
        rows_checked=report.rows_checked,
        first_problem=problem,
        last_seq=report.last_seq,
        last_hash=report.last_hash,
        query_texts_checked=texts_checked,
    )


def _verify_events(anchor: Anchor | None) -> VerifyReport:
    checked = 0
    last_seq: int | None = None
    last_hash = ""
    anchor_found = False
    with connection.chunked_cursor() as cursor:
        cursor.execute(
            "SELECT e.seq, e.prev_hash, e.row_hash, audit_event_digest(e) "
            "FROM audit_auditevent e ORDER BY e.seq"
        )
        while rows := cursor.fetchmany(BATCH_SIZE):
            for seq, prev_hash, row_hash, digest in rows:
                fault = _row_problem(seq, prev_hash, row_hash, digest, last_seq, last_hash)
                if fault is None and anchor is not None and seq == anchor.seq:
                    anchor_found = True
                    if row_hash != anchor.row_hash:
                        fault = (
                            seq,
                            (
                                f"seq {seq}: row_hash {row_hash} is not the anchor's "
                                f"{anchor.row_hash}: the chain was rewritten up to here"
                            ),
                        )
                if fault is not None:
                    return VerifyReport(
                        False, checked, fault[1], last_seq, last_hash or None, problem_seq=fault[0]
                    )
                checked += 1
                last_seq, last_hash = seq, row_hash
    if anchor is not None and not anchor_found:
        problem = (
            f"seq {anchor.seq} missing (the log ends at seq {last_seq or 0}, before the "
            "anchor): the newest rows were removed"
        )
        return VerifyReport(
            False, checked, problem, last_seq, last_hash or None, problem_seq=anchor.seq
        )
    return VerifyReport(True, checked, None, last_seq, last_hash or None)


def _row_problem(
    seq: int, prev_hash: str, row_hash: str, digest: str, last_seq: int | None, last_hash: str
) -> tuple[int, str] | None:
    """The seq at fault and what is wrong with this row, or None when it is sound."""
    expected = (last_seq or 0) + 1
    if seq != expected:
        missing = f"seq {expected}" if seq == expected + 1 else f"seq {expected}..{seq - 1}"
        after = f"after seq {last_seq}" if last_seq else "at the start"
        return expected, (
            f"{missing} missing (found seq {seq} {after}): rows were removed from the audit log"
        )
    if prev_hash != last_hash:
        previous = f"the row_hash of seq {last_seq}" if last_seq else "empty (first row)"
        return seq, (
            f"seq {seq}: prev_hash {prev_hash or '(empty)'} is not {previous}: the chain is "
            "broken (an earlier row was rewritten)"
        )
    if row_hash != digest:
        return seq, f"seq {seq} altered: its row_hash does not match its content"
    return None


def _verify_query_texts() -> tuple[int, str | None]:
    checked = 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(
            "SELECT hash, encode(sha256(convert_to(text, 'UTF8')), 'hex') = hash "
            "FROM audit_auditquerytext ORDER BY hash"
        )
        while rows := cursor.fetchmany(BATCH_SIZE):
            for key, matches in rows:
                if not matches:
                    return checked, f"query text {key}: its text does not match its hash: altered"
                checked += 1
    return checked, None
