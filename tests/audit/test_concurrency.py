"""Concurrent writers on their own connections still build one unbroken chain.

These tests commit for real (``transaction=True``): the threads' connections cannot see the
uncommitted rows of a test transaction. pytest-django then empties the database after each
test with ``manage.py flush``, which is a TRUNCATE: TRUNCATE fires no row-level triggers, and
the audit migrations deliberately add no TRUNCATE trigger, so the append-only protections do
not get in the way (``test_flush_empties_the_log`` shows it). Every thread closes its own
connection, so the test database can be flushed and dropped afterwards.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from audit.models import AuditEvent, AuditQueryText, RecordChange
from audit.verify import verify_chain
from tests.audit.helpers import operation
from tests.factories import OfficeFactory

pytestmark = pytest.mark.django_db(transaction=True)

CHAIN_LOCK_KEY = importlib.import_module("audit.migrations.0002_triggers").CHAIN_LOCK_KEY
TIMEOUT = 30


def _thread(target: Callable[[], Any], errors: list[BaseException]) -> threading.Thread:
    """A thread running ``target`` on its own connection, closed at the end."""

    def run() -> None:
        try:
            target()
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)
        finally:
            connection.close()

    return threading.Thread(target=run, daemon=True)


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _waiting_for_chain_lock() -> list[int]:
    """Backends waiting for the chain's advisory lock."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND ((classid::bigint << 32) | objid::bigint) = %s",
            [CHAIN_LOCK_KEY],
        )
        return [row[0] for row in cursor.fetchall()]


def test_second_writer_waits_for_the_first_and_links_to_its_row():
    # given a first writer whose transaction wrote a row and is still open
    first_written, release = threading.Event(), threading.Event()
    results: dict[str, Any] = {}
    errors: list[BaseException] = []

    def first() -> None:
        with transaction.atomic():
            results["first"] = operation("First")
            first_written.set()
            assert release.wait(TIMEOUT)

    def second() -> None:
        assert first_written.wait(TIMEOUT)
        results["second_pid"] = _backend_pid()
        results["second"] = operation("Second")

    threads = [_thread(first, errors), _thread(second, errors)]
    for thread in threads:
        thread.start()
    # when a second writer, on another connection, writes meanwhile
    deadline = time.monotonic() + TIMEOUT
    while "second_pid" not in results or not _waiting_for_chain_lock():
        assert time.monotonic() < deadline, errors
        time.sleep(0.02)
    waiting = _waiting_for_chain_lock()
    release.set()
    for thread in threads:
        thread.join(TIMEOUT)
    # then the second writer waited for the chain's lock, and linked to the first row
    assert errors == []
    assert waiting == [results["second_pid"]]
    first_row, second_row = results["first"], results["second"]
    assert (first_row.seq, second_row.seq) == (1, 2)
    assert second_row.prev_hash == first_row.row_hash
    report = verify_chain()
    assert (report.ok, report.rows_checked, report.last_hash) == (True, 2, second_row.row_hash)


def test_many_concurrent_writers_keep_one_chain():
    # given eight writers that start together, each with its own connection
    writers, per_writer = 8, 10
    start = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(n: int) -> Callable[[], None]:
        def run() -> None:
            start.wait(TIMEOUT)
            for i in range(per_writer):
                operation(f"W{n}", query=f"query W{n} {{ tips {{ id }} }}", variables={"i": i})

        return run

    threads = [_thread(write(n), errors) for n in range(writers)]
    # when they all write at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    # then every row is there, numbered without gaps, in one valid chain
    assert errors == []
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, writers * per_writer + 1)
    )
    names = AuditEvent.objects.order_by("operation_name").values_list("operation_name", flat=True)
    assert list(names.distinct()) == [f"W{n}" for n in range(writers)]
    assert AuditQueryText.objects.count() == writers
    report = verify_chain()
    assert (report.ok, report.rows_checked, report.first_problem) == (True, 80, None)


def test_writes_in_repeatable_read_are_refused():
    # given a REPEATABLE READ transaction, whose snapshot could miss the previous writer's row
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        # when a row is written, then the chain trigger refuses it
        with pytest.raises(DatabaseError, match="must be written in READ COMMITTED"):
            operation()
    assert AuditEvent.objects.count() == 0


def test_flush_empties_the_log():
    # given committed audit rows and record changes
    operation(query="{ tips { id } }")
    OfficeFactory()
    assert (AuditEvent.objects.count(), RecordChange.objects.count()) == (1, 1)
    # when the database is flushed, as pytest-django does after each transactional test
    call_command("flush", interactive=False, verbosity=0)
    # then TRUNCATE emptied the audit tables despite the append-only triggers
    assert (AuditEvent.objects.count(), RecordChange.objects.count()) == (0, 0)
    assert AuditQueryText.objects.count() == 0
    # and the chain starts again at seq 1
    assert operation().seq == 1
