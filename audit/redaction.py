"""What a disposal run leaves in the audit log, and how the verifier reads it.

A disposal run (``backend.services.disposal``) writes ADMIN events into the chain, which are
never redacted themselves:

- ``STARTED`` (``"disposal run started"``), before it disposes of anything: the run, its
  categories and, when it cuts the audit log (category AUDIT_LOG), ``audit_log_through``:
  ``{"seq": N, "row_hash": H}``, the last row it may remove and that row's hash. The chain may
  then start after seq 1: at N + 1 with ``prev_hash`` H, or earlier while the run is under way
  (row N then still has hash H).
- ``BATCH`` (``"disposal batch"``), in the transaction of each batch: the rows disposed of per
  table, and ``redacted_audit_rows``, the seqs whose variables the batch redacted, as ranges
  ``[[first, last], ...]``. A row with ``redacted_by_run`` verifies only when a batch event of
  that run, later in the chain, names its seq.
- ``FINISHED`` / ``FAILED``: the run's categories, counts and a digest of the ids per table.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "APPROVED",
    "BATCH",
    "CANCELLED",
    "DISPOSAL_OPERATIONS",
    "FAILED",
    "FINISHED",
    "REQUESTED",
    "STARTED",
    "covers",
    "seq_ranges",
]

REQUESTED = "disposal requested"
APPROVED = "disposal approved"
CANCELLED = "disposal cancelled"
STARTED = "disposal run started"
BATCH = "disposal batch"
FINISHED = "disposal run finished"
FAILED = "disposal run failed"
#: The operation names of the events a disposal writes; a run never redacts them.
DISPOSAL_OPERATIONS = (REQUESTED, APPROVED, CANCELLED, STARTED, BATCH, FINISHED, FAILED)


def seq_ranges(seqs: Iterable[int]) -> list[list[int]]:
    """``[1, 2, 3, 7]`` -> ``[[1, 3], [7, 7]]``."""
    ranges: list[list[int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1][1] = seq
        else:
            ranges.append([seq, seq])
    return ranges


def covers(ranges: Any, seq: int) -> bool:
    """Whether ``seq`` is in ``ranges`` (as ``seq_ranges`` writes them)."""
    if not isinstance(ranges, list):
        return False
    for pair in ranges:
        if isinstance(pair, list) and len(pair) == 2 and pair[0] <= seq <= pair[1]:
            return True
    return False
