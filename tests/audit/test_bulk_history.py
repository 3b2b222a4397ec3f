"""Record history per statement (audit migration 0005, ``audit.protections``): attached to
every tracked table beside the row trigger, and each write is captured exactly once, whatever
the ``tipgraph.history`` setting says."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from audit.history import changes_for
from audit.protections import STATEMENT_TRIGGERS, history_tables
from backend import models as m
from backend.registry import HISTORY_MODE_SETTING
from tests.factories import SourceFactory

pytestmark = pytest.mark.django_db


def _triggers() -> dict[str, set[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND t.tgname LIKE 'audit_capture_statement_%%'"
        )
        found: dict[str, set[str]] = {}
        for table, trigger in cursor.fetchall():
            found.setdefault(table, set()).add(trigger)
    return found


def test_every_tracked_table_has_the_statement_triggers_and_no_other_table_has_them():
    # given the tables the registry tracks
    tracked = set(history_tables())
    # when the triggers are read from the catalogue
    found = _triggers()
    # then every tracked table carries the three statement triggers, and nothing else does
    expected = {trigger for trigger, _ in STATEMENT_TRIGGERS.values()}
    assert "backend_tip" in found
    assert set(found) <= tracked
    assert {t for t in tracked if found.get(t) != expected} == set()


@pytest.mark.parametrize("mode", ["", "statement", "something else"])
def test_a_write_is_captured_once_whatever_the_setting(mode):
    # given the history setting of this transaction
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, true)", [HISTORY_MODE_SETTING, mode])
        # when a record is created, updated and deleted
        source = SourceFactory(name="Before")
        m.Source.objects.filter(pk=source.pk).update(name="After")
        tip_source = SourceFactory(name="Gone")
        m.Source.objects.filter(pk=tip_source.pk).delete()
    # then each write left exactly one history row with its before and after
    changes = list(changes_for(m.Source, source.pk))
    assert [c.operation for c in changes] == ["INSERT", "UPDATE"]
    assert changes[0].before is None and changes[0].after["name"] == "Before"
    assert changes[1].before["name"] == "Before" and changes[1].after["name"] == "After"
    gone = list(changes_for(m.Source, tip_source.pk))
    assert [c.operation for c in gone] == ["INSERT", "DELETE"]
    assert gone[1].before["name"] == "Gone" and gone[1].after is None
