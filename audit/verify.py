"""Proof that nothing was removed from or altered in the audit log.

The database numbers audit rows 1, 2, 3... and stores in each the hash of the previous row
(``prev_hash``) and its own hash over that and its content (``row_hash``, computed by the SQL
function ``audit_event_digest``). ``verify_chain`` walks the rows in order and reports the
first row where:

- ``seq`` skips a number: rows were removed;
- ``prev_hash`` is not the previous row's ``row_hash``: the chain was broken (a row before it
  was altered and re-hashed, or rows were removed and the rest renumbered);
- ``row_hash`` is not the digest of the row as it is now: the row was altered.

- the variables do not match ``payload_digest``, the digest the chain hashes in their place,
  and no disposal run redacted them (below): the row was altered.

It also checks that every stored query text still hashes to its key, unless a disposal run
blanked it.

The digest (version 2, ``audit/migrations/0004_disposal.py``) can be recomputed without the
database (``tests/audit/test_writer.py`` does): ``sha256(prev_hash + "\\n" + canonical)`` in
hex, where ``canonical`` is the jsonb text of an object with the keys ``v`` (2), ``seq``,
``occurred_at`` (UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``), ``kind``, ``user_id``, ``username``,
``role``, ``auth_method``, ``client_address``, ``user_agent``, ``operation_type``,
``operation_name``, ``query_hash``, ``payload_digest``, ``outcome``, ``error_codes``,
``duration_ms``, ``records_returned``, ``records_changed`` and ``context_id``: keys ordered
shorter first then bytewise, ``", "`` and ``": "`` separators. ``payload_digest`` is the
sha256 (hex) of the variables' jsonb text, printed the same way.

**Disposal** (``audit.redaction``). A disposal run may remove the oldest rows (the audit log's
own retention period) and redact the variables of rows about the records it disposes of. Both
verify: the chain may start after seq 1 when a "disposal run started" event in it names the
last row removed and its hash (the first row left must link to that hash); a row whose
``redacted_by_run`` is set must have empty variables and be named by a "disposal batch" event
of that run later in the chain; a blanked query text must name a run that wrote a batch
event. Anything else is reported as tampering, as before.

Removing the newest rows leaves a valid, shorter chain. To detect that, keep the head that a
run reports (``last_seq``, ``last_hash``) somewhere else and pass it back as ``anchor``: the
row must still be there with the same hash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from audit import redaction

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
        disposals = _Disposals.read()
        report = _verify_events(anchor, disposals)
        if not report.ok:
            return report
        texts_checked, problem = _verify_query_texts(disposals)
    return VerifyReport(
        ok=problem is None,
        rows_checked=report.rows_checked,
        first_problem=problem,
        last_seq=report.last_seq,
        last_hash=report.last_hash,
        query_texts_checked=texts_checked,
    )


@dataclass
class _Disposals:
    """What disposal runs wrote into the chain: the points up to which the log may be cut, and
    the rows each run's batches redacted."""

    #: seq N -> row_hash H: a run may remove rows 1..N; row N had hash H.
    cuts: dict[int, str] = field(default_factory=dict)
    #: run -> [(seq of the batch event, its ranges of redacted seqs)].
    batches: dict[int, list[tuple[int, Any]]] = field(default_factory=dict)

    @classmethod
    def read(cls) -> _Disposals:
        found = cls()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT seq, operation_name, variables FROM audit_auditevent "
                "WHERE kind = 'ADMIN' AND operation_name IN (%s, %s) ORDER BY seq",
                [redaction.STARTED, redaction.BATCH],
            )
            for seq, operation, variables in cursor.fetchall():
                variables = _json(variables)
                if operation == redaction.STARTED:
                    cut = variables.get("audit_log_through") or {}
                    if isinstance(cut.get("seq"), int) and isinstance(cut.get("row_hash"), str):
                        found.cuts[cut["seq"]] = cut["row_hash"]
                elif isinstance(variables.get("run"), int):
                    found.batches.setdefault(variables["run"], []).append(
                        (seq, variables.get("redacted_audit_rows"))
                    )
        return found

    def vouched(self, run: int, seq: int) -> bool:
        """Whether a batch event of ``run``, after ``seq``, names ``seq`` as redacted."""
        return any(
            at > seq and redaction.covers(ranges, seq) for at, ranges in self.batches.get(run, [])
        )


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


def _verify_events(anchor: Anchor | None, disposals: _Disposals) -> VerifyReport:
    checked = 0
    last_seq: int | None = None
    last_hash = ""
    anchor_found = False
    with connection.chunked_cursor() as cursor:
        cursor.execute(
            "SELECT e.seq, e.prev_hash, e.row_hash, audit_event_digest(e), "
            "audit_payload_digest(e.variables) = e.payload_digest, e.redacted_by_run, "
            "e.variables = '{}'::jsonb "
            "FROM audit_auditevent e ORDER BY e.seq"
        )
        while rows := cursor.fetchmany(BATCH_SIZE):
            for seq, prev_hash, row_hash, digest, intact, redacted_by, emptied in rows:
                if last_seq is None and seq != 1:
                    fault = _cut_problem(seq, prev_hash, disposals)
                    if fault is not None:
                        return VerifyReport(False, 0, fault[1], None, None, problem_seq=fault[0])
                    last_seq, last_hash = seq - 1, prev_hash
                fault = _row_problem(seq, prev_hash, row_hash, digest, last_seq, last_hash)
                if fault is None:
                    fault = _payload_problem(seq, intact, redacted_by, emptied, disposals)
                if fault is None and seq in disposals.cuts and row_hash != disposals.cuts[seq]:
                    fault = (
                        seq,
                        f"seq {seq}: row_hash {row_hash} is not the {disposals.cuts[seq]} a "
                        "disposal run recorded for it: the chain was rewritten up to here",
                    )
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
        first_seq = (last_seq or 0) - checked + 1
        if last_seq is not None and anchor.seq < first_seq:
            # a disposal run removed the anchor's row: only a cut point's hash is still known
            recorded = disposals.cuts.get(anchor.seq, anchor.row_hash)
            if recorded == anchor.row_hash:
                return VerifyReport(True, checked, None, last_seq, last_hash or None)
            problem = (
                f"seq {anchor.seq}: the anchor's row_hash {anchor.row_hash} is not the "
                f"{recorded} a disposal run recorded when it removed the row"
            )
            return VerifyReport(
                False, checked, problem, last_seq, last_hash or None, problem_seq=anchor.seq
            )
        problem = (
            f"seq {anchor.seq} missing (the log ends at seq {last_seq or 0}, before the "
            "anchor): the newest rows were removed"
        )
        return VerifyReport(
            False, checked, problem, last_seq, last_hash or None, problem_seq=anchor.seq
        )
    return VerifyReport(True, checked, None, last_seq, last_hash or None)


def _cut_problem(first: int, prev_hash: str, disposals: _Disposals) -> tuple[int, str] | None:
    """Why a chain starting at ``first`` (not 1) is not a cut a disposal run vouches for."""
    through = max((seq for seq in disposals.cuts if seq >= first - 1), default=None)
    if through is None:
        cut = max((seq for seq in disposals.cuts if seq < first - 1), default=0)
        start = cut + 1
        missing = f"seq {start}" if first == start + 1 else f"seq {start}..{first - 1}"
        vouched = f"; disposal runs removed rows up to seq {cut} only" if cut else ""
        return start, (
            f"{missing} missing (found seq {first} at the start{vouched}): rows were removed "
            "from the audit log"
        )
    if through == first - 1 and prev_hash != disposals.cuts[through]:
        return first, (
            f"seq {first}: prev_hash {prev_hash or '(empty)'} is not the row_hash "
            f"{disposals.cuts[through]} of seq {through}, where a disposal run cut the log: "
            "the chain is broken"
        )
    return None


def _payload_problem(
    seq: int, intact: bool, redacted_by: int | None, emptied: bool, disposals: _Disposals
) -> tuple[int, str] | None:
    if redacted_by is None:
        return (
            None if intact else (seq, f"seq {seq} altered: its row_hash does not match its content")
        )
    if not emptied:
        return (
            seq,
            f"seq {seq} altered: its variables were changed after disposal run {redacted_by}",
        )
    if not disposals.vouched(redacted_by, seq):
        return seq, (
            f"seq {seq}: its variables were removed in the name of disposal run {redacted_by}, "
            "but no batch event of that run later in the chain names the row"
        )
    return None


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


def _verify_query_texts(disposals: _Disposals) -> tuple[int, str | None]:
    checked = 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(
            "SELECT hash, encode(sha256(convert_to(text, 'UTF8')), 'hex') = hash, "
            "redacted_by_run, text = '' FROM audit_auditquerytext ORDER BY hash"
        )
        while rows := cursor.fetchmany(BATCH_SIZE):
            for key, matches, redacted_by, blank in rows:
                if redacted_by is not None:
                    if not blank or redacted_by not in disposals.batches:
                        return checked, (
                            f"query text {key}: blanked in the name of disposal run "
                            f"{redacted_by}, which wrote no batch event: altered"
                        )
                elif not matches:
                    return checked, f"query text {key}: its text does not match its hash: altered"
                checked += 1
    return checked, None
