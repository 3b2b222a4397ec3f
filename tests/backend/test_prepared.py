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
