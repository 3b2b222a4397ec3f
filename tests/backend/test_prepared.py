"""The lookup's reads run as prepared statements: planned once per connection, not per lookup."""

from __future__ import annotations

import pytest
from django.db import connection

from backend import models as m
from backend.services.lookups import LookupCriteria, traveller_lookup
from tests.factories import IdentifierFactory, SightingFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def prepared_lookup_statements() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements "
            "WHERE statement LIKE '%%_identifier_candidates%%'"
        )
        (count,) = cursor.fetchone()
    return count


@pytest.mark.parametrize("enabled", [True, False])
def test_the_lookup_read_is_prepared_unless_turned_off(settings, enabled):
    # given an identifier seen in a tip, and prepared statements on or off
    settings.DATABASE_PREPARED_STATEMENTS = enabled
    SightingFactory(identifier=IdentifierFactory(raw_value="prep@example.com"))
    analyst = UserFactory(role=m.Role.ANALYST)
    connection.close()  # a new connection: nothing prepared on it yet
    before = prepared_lookup_statements()
    assert before == 0
    # when the same kind of lookup runs twice
    outcomes = [
        traveller_lookup(by=analyst, criteria=LookupCriteria(email="PREP@example.com"))
        for _ in range(2)
    ]
    # then both found the tip, and the read was prepared once (or not at all when off)
    assert all(len(outcome.tip_ids) == 1 for outcome in outcomes)
    assert prepared_lookup_statements() == (1 if enabled else 0)


# -- a transaction's settings deferred to its next statement (backend.prepared.set_local)

SETTING = "tipgraph.test_setting"


def current(name: str = SETTING) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s, true)", [name])
        (value,) = cursor.fetchone()
    return value or ""


def statements(captured) -> list[str]:
    return [" ".join(q["sql"].split()) for q in captured]


def test_a_deferred_setting_rides_with_a_value_read_and_costs_no_statement():
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    from backend.prepared import fetch_prepared_value, set_local

    # given a transaction that defers a setting
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        set_local(SETTING, "carried", defer=True)
        # when it reads one value
        value = fetch_prepared_value("SELECT %s::text", ["read"])
        sent = statements(captured)
        # then the value came back, the setting holds, and one statement did both
        assert value == "read"
        assert len(sent) == 1 and "set_config" in sent[0], sent
        assert current() == "carried"


@pytest.mark.parametrize("first", ["orm", "cursor", "prepared"])
def test_a_deferred_setting_goes_before_any_other_statement(first):
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    from backend.prepared import fetch_prepared, set_local

    m.Source.objects.create(kind="ESP_CLEARINGHOUSE", name="first")
    # given a transaction that defers a setting
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        set_local(SETTING, "first", defer=True)
        # when its next statement is an ORM query, a plain cursor's or a prepared one that
        # reads the setting
        if first == "orm":
            found = m.Source.objects.filter(name=RawSQLSetting()).exists()
            seen = "first" if found else ""
        elif first == "cursor":
            seen = current()
        else:
            [(seen,)] = fetch_prepared("SELECT current_setting(%s, true)", [SETTING])
        sent = statements(captured)
    # then the setting was in force for it: sent on its own, just before
    assert seen == "first"
    assert sent[0] == f"SELECT set_config('{SETTING}', 'first', true)", sent


class RawSQLSetting:
    """An ORM expression whose SQL reads the setting (what a trigger would see)."""

    def resolve_expression(self, *args, **kwargs):
        from django.db.models import CharField
        from django.db.models.expressions import RawSQL

        return RawSQL("current_setting(%s, true)", [SETTING], output_field=CharField())


def test_a_deferred_setting_ends_with_its_transaction_unsent():
    from django.db import transaction
    from django.test.utils import CaptureQueriesContext

    from backend.prepared import set_local

    # given a transaction that deferred a setting and ended without a statement
    with transaction.atomic():
        set_local(SETTING, "stale", defer=True)
    # when the next transaction runs statements
    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        seen = current()
    # then the old setting was neither sent nor in force
    assert seen == ""
    assert not any("stale" in sql for sql in statements(captured))


def test_a_setting_made_at_once_replaces_a_deferred_one_of_the_same_name():
    from django.db import transaction

    from backend.prepared import set_local

    with transaction.atomic():
        set_local(SETTING, "deferred", defer=True)
        set_local(SETTING, "now")
        assert current() == "now"


def test_outside_a_transaction_a_deferred_setting_is_sent_at_once():
    from django.test.utils import CaptureQueriesContext

    from backend.prepared import set_local

    with CaptureQueriesContext(connection) as captured:
        set_local(SETTING, "autocommit", defer=True)
    assert statements(captured) == [f"SELECT set_config('{SETTING}', 'autocommit', true)"]


def test_an_operations_writes_carry_its_deferred_audit_context():
    # given an operation's audit context, deferred as the GraphQL operations' is
    from django.db import transaction

    from audit.history import changes_in_context
    from audit.writer import new_context, set_context

    context_id = new_context()
    with transaction.atomic():
        set_context(context_id, defer=True)
        # when its first statement is a write through the ORM
        source = m.Source.objects.create(kind="ESP_CLEARINGHOUSE", name="Deferred context")
    # then the record history ties the write to the operation
    changed = [(c.table_name, c.row_id) for c in changes_in_context(context_id)]
    assert (m.Source._meta.db_table, str(source.pk)) in [(t, str(r)) for t, r in changed]


def test_a_copy_sends_the_deferred_settings_first():
    # given a transaction that defers an audit context, as a GraphQL operation does
    from django.db import transaction

    from audit.history import changes_in_context
    from audit.writer import new_context, set_context
    from backend.intake.importer import _copy_rows

    source = m.Source.objects.create(kind="ESP_CLEARINGHOUSE", name="COPY source")
    context_id = new_context()
    with transaction.atomic():
        set_context(context_id, defer=True)
        # when its first statement is a COPY (which Django's execute wrappers do not see)
        columns = tuple(f.column for f in m.Source._meta.concrete_fields if not f.primary_key)
        row = tuple(
            getattr(source, f.attname) for f in m.Source._meta.concrete_fields if not f.primary_key
        )
        _copy_rows(m.Source, columns, [tuple("Copied" if v == "COPY source" else v for v in row)])
    # then the record history ties the copied row to the context
    copied = m.Source.objects.get(name="Copied")
    changed = {(c.table_name, str(c.row_id)) for c in changes_in_context(context_id)}
    assert (m.Source._meta.db_table, str(copied.pk)) in changed
