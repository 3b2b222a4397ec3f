"""The fine-grained locks of linking (backend.services.clusters), with committed transactions on
real connections: one writer holds its transaction open while a second one runs.

- tips with nothing in common link at the same time (and do not under ``LINK_LOCKS =
  "global"``, the single lock the fine ones replaced);
- a tip naming the same subject as an open transaction's tip waits for its key, then links;
- a tip that joins a cluster while a third tip merges that cluster into another waits for the
  cluster's key, sees the cluster gone, and ends in the merged cluster;
- a removal and a tip joining the cluster at the same moment leave exact clusters;
- a bulk import batch holds the graph lock exclusively: a hand-entered tip waits for it.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, transaction

from backend.intake.importer import import_tips
from backend.intake.records import IntakeIdentifier, IntakeTip
from backend.models import Cluster, Tip, TipCategory, TipLink
from backend.services.linking import remove_link
from backend.services.tips import SightingSpec
from tests.factories import SourceFactory, SubjectFactory, service_tip

RECEIVED = dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC)
TIMEOUT = 30

pytestmark = pytest.mark.django_db(transaction=True)


def _email(value: str) -> SightingSpec:
    return SightingSpec(kind="EMAIL", value=value)


def _tip(reference: str, *specs: SightingSpec, subjects=()) -> Tip:
    return service_tip(reference, identifiers=specs, subjects=[(s, "SUSPECT") for s in subjects])


def _clusters() -> set[frozenset[int]]:
    found = set()
    for cluster in Cluster.objects.all():
        tips = frozenset(Tip.objects.filter(cluster=cluster).values_list("pk", flat=True))
        assert cluster.size == len(tips), cluster
        found.add(tips)
    return found


class Writer(threading.Thread):
    """Runs ``work`` in a transaction on its own connection; with ``hold``, keeps the
    transaction open after ``work`` until ``release`` is set."""

    def __init__(self, work: Callable[[], object], *, hold: bool = False) -> None:
        super().__init__(daemon=True)
        self.work, self.hold = work, hold
        self.pid: int | None = None
        self.result: object = None
        self.error: BaseException | None = None
        self.started_work = threading.Event()
        self.holding = threading.Event()
        self.release = threading.Event()

    def run(self) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.pid = cursor.fetchone()[0]
            with transaction.atomic():
                self.started_work.set()
                self.result = self.work()
                if self.hold:
                    self.holding.set()
                    assert self.release.wait(TIMEOUT)
        except BaseException as error:  # reported by the test
            self.error = error
        finally:
            self.holding.set()
            connection.close()

    def finish(self) -> object:
        self.release.set()
        self.join(TIMEOUT)
        assert not self.is_alive()
        if self.error is not None:
            raise self.error
        return self.result


def _waits_for_advisory_lock(writer: Writer) -> bool:
    """Whether ``writer``'s connection comes to wait for an advisory lock."""
    assert writer.started_work.wait(TIMEOUT)
    pid = writer.pid
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE pid = %s AND locktype = 'advisory' "
                "AND NOT granted",
                [pid],
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.02)
    return False


def _hold(work: Callable[[], object]) -> Writer:
    writer = Writer(work, hold=True)
    writer.start()
    assert writer.holding.wait(TIMEOUT)
    if writer.error is not None:
        raise writer.error
    return writer


def test_tips_with_nothing_in_common_link_at_the_same_time():
    # given a transaction that recorded and linked a tip and is still open
    first = _hold(lambda: _tip("A", _email("a@example.com")))
    try:
        # when another tip with other identifiers is recorded
        second = Writer(lambda: _tip("B", _email("b@example.com")))
        second.start()
        # then it commits while the first is still open
        second.join(TIMEOUT)
        assert not second.is_alive() and second.error is None
    finally:
        first.finish()
    assert len(_clusters()) == 2


def test_under_the_single_global_lock_they_wait(settings):
    # given the single lock of before (the benchmark's comparison)
    settings.LINK_LOCKS = "global"
    first = _hold(lambda: _tip("A", _email("a@example.com")))
    second = Writer(lambda: _tip("B", _email("b@example.com")))
    try:
        second.start()
        # then an unrelated tip waits for the first transaction
        assert _waits_for_advisory_lock(second)
        assert second.is_alive()
    finally:
        first.finish()
        second.finish()
    assert len(_clusters()) == 2


def test_a_tip_sharing_a_subject_waits_for_its_key_then_links():
    # given an open transaction that recorded a tip naming a subject
    subject = SubjectFactory()
    first = _hold(lambda: _tip("A", _email("a@example.com"), subjects=[subject]))
    second = Writer(lambda: _tip("B", _email("b@example.com"), subjects=[subject]))
    try:
        # when a second tip names the same subject, it waits for the subject's key
        second.start()
        assert _waits_for_advisory_lock(second)
    finally:
        a = first.finish()
        b = second.finish()
    # then, once the first committed, the second saw it: linked (one row), one cluster
    assert set(TipLink.objects.values_list("from_tip_id", "to_tip_id", "kind")) == {
        (a.pk, b.pk, "SHARED_SUBJECT"),
    }
    assert _clusters() == {frozenset({a.pk, b.pk})}


def test_a_tip_joining_a_cluster_that_a_bridge_merges_away_ends_in_the_merged_cluster():
    # given two clusters of one tip each; the second tip carries Y and Z
    x = _tip("X", _email("x@example.com"))
    y = _tip("Y", _email("y@example.com"), _email("z@example.com"))
    assert _clusters() == {frozenset({x.pk}), frozenset({y.pk})}
    # and an open transaction whose bridging tip (X, Y) merged the two clusters into one
    bridge = _hold(lambda: _tip("B", _email("x@example.com"), _email("y@example.com")))
    # when a tip with Z (no identifier in common with the bridge) joins Y's cluster
    joiner = Writer(lambda: _tip("J", _email("z@example.com")))
    try:
        joiner.start()
        # it has linked to Y and waits for the key of the cluster it read Y in
        assert _waits_for_advisory_lock(joiner)
    finally:
        b = bridge.finish()  # commits the merge: one of the two clusters is gone
        j = joiner.finish()
    # then the joiner saw the cluster move, locked the merged one, and joined it
    assert _clusters() == {frozenset({x.pk, y.pk, b.pk, j.pk})}
    assert Cluster.objects.get().size == 4


def test_a_removal_and_a_tip_joining_the_cluster_at_once_leave_exact_clusters():
    # given A - B linked by an e-mail, B also carrying a phone
    a = _tip("A", _email("ab@example.com"))
    b = _tip("B", _email("ab@example.com"), SightingSpec(kind="PHONE", value="+12025550143"))
    link = TipLink.objects.get(from_tip=a, to_tip=b)
    # and an open transaction that removed the A - B link (and split the cluster)
    removal = _hold(lambda: remove_link(by=None, link=link, reason="different people"))
    # when a tip with B's phone arrives
    joiner = Writer(lambda: _tip("C", SightingSpec(kind="PHONE", value="+1 202 555 0143")))
    try:
        joiner.start()
        assert _waits_for_advisory_lock(joiner)
    finally:
        removal.finish()
        c = joiner.finish()
    # then A is alone and B and C are together
    assert _clusters() == {frozenset({a.pk}), frozenset({b.pk, c.pk})}


def test_an_import_batch_holds_the_graph_lock_exclusively():
    # given an import batch still in its transaction
    source = SourceFactory()
    record = IntakeTip(
        row=1,
        source_reference="F-1",
        received_at=RECEIVED,
        category=TipCategory.OTHER,
        identifiers=(IntakeIdentifier(kind="EMAIL", value="f@example.com"),),
    )
    batch = _hold(lambda: import_tips(records=[record], source=source, by=None))
    # when a tip with nothing in common is entered by hand, it waits for the batch
    entered = Writer(lambda: _tip("H", _email("h@example.com")))
    try:
        entered.start()
        assert _waits_for_advisory_lock(entered)
    finally:
        batch.finish()
        entered.finish()
    assert Tip.objects.count() == 2
