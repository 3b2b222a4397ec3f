"""Identical creations racing on their own connections: one wins, the others get the typed
DUPLICATE error (never the database's unique-violation text), and nothing of theirs is kept.

The requests go through /graphql, each in its own thread with its own database connection,
and commit for real (``transaction=True``). So that all of them really pass the service's
"does it exist yet?" check before any inserts, every thread waits at a barrier just before
its insert; the first insert then wins, and the others block on the unique index until it
commits, and fail on it.
"""

from __future__ import annotations

import json
import threading
from contextlib import nullcontext
from typing import Any

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test import Client
from strawberry.relay import to_base64

from audit.models import AuditEvent
from backend import models as m
from tests.factories import SourceFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 6
TIMEOUT = 30

CREATE_SOURCE = """
mutation { createSource(input: {kind: NGO, name: "Same Name", country: "GB"}) {
  source { id } errors { code field message } } }
"""
CREATE_TIP = """
mutation ($source: ID!) { createTip(input: {sourceId: $source, sourceReference: "CT-RACE",
  receivedAt: "2026-01-05T10:00:00Z", category: DISTRIBUTION,
  identifiers: [{identifier: {kind: EMAIL, value: "racer@example.com"}}]}) {
  tip { id } errors { code field message } } }
"""


def _race(
    monkeypatch: pytest.MonkeyPatch, model: type, query: str, variables: dict[str, Any]
) -> list[dict[str, Any]]:
    """Send ``query`` from RACERS threads at once, each inserting its ``model`` row only when
    all of them got that far; their answers."""
    user = UserFactory(username="racer", role=m.Role.ANALYST)
    at_insert = threading.Barrier(RACERS, timeout=TIMEOUT)
    create = QuerySet.create

    def create_together(self: QuerySet, **kwargs: Any) -> Any:
        if self.model is model:
            at_insert.wait()
        return create(self, **kwargs)

    monkeypatch.setattr(QuerySet, "create", create_together)
    answers: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def racer() -> None:
        try:
            client = Client()
            client.force_login(user)
            response = client.post(
                "/graphql",
                json.dumps({"query": query, "variables": variables}),
                content_type="application/json",
            )
            answers.append(response.json())
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)
        finally:
            connection.close()

    threads: list[threading.Thread] = [threading.Thread(target=racer) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert errors == []
    assert len(answers) == RACERS
    return answers


def _outcomes(answers: list[dict[str, Any]], name: str, key: str) -> tuple[int, list[Any]]:
    assert all("errors" not in answer for answer in answers), answers
    payloads = [answer["data"][name] for answer in answers]
    won = [p for p in payloads if p[key] is not None and p["errors"] == []]
    lost = [(p[key], [(e["code"], e["field"]) for e in p["errors"]]) for p in payloads]
    return len(won), [outcome for outcome in lost if outcome[0] is None]


def test_racing_identical_sources_make_one_source_and_five_duplicates(monkeypatch):
    # when six identical createSource race
    answers = _race(monkeypatch, m.Source, CREATE_SOURCE, {})
    # then one created it and five were told DUPLICATE, in our words
    won, lost = _outcomes(answers, "createSource", "source")
    assert won == 1
    assert lost == [(None, [("DUPLICATE", "name")])] * (RACERS - 1)
    messages = [e["message"] for a in answers for e in a["data"]["createSource"]["errors"]]
    assert all(message == "a NGO source named 'Same Name' already exists" for message in messages)
    assert m.Source.objects.filter(name="Same Name").count() == 1
    # and each request has its audit row, the winner's with the source it created
    rows = AuditEvent.objects.filter(kind="OPERATION")
    assert sorted(row.outcome for row in rows) == ["ALLOWED"] * RACERS
    assert sorted(len(row.records_changed) for row in rows) == [0] * (RACERS - 1) + [1]


def test_racing_identical_tips_make_one_tip_and_leave_nothing_else(monkeypatch):
    # given a source
    source = SourceFactory()
    # when six identical createTip race
    answers = _race(monkeypatch, m.Tip, CREATE_TIP, {"source": to_base64("Source", source.pk)})
    # then one tip, five DUPLICATEs on sourceReference
    won, lost = _outcomes(answers, "createTip", "tip")
    assert won == 1
    assert lost == [(None, [("DUPLICATE", "sourceReference")])] * (RACERS - 1)
    # and nothing half-written: one tip, one identifier, one sighting
    assert m.Tip.objects.filter(source=source, source_reference="CT-RACE").count() == 1
    assert m.Identifier.objects.count() == 1
    assert m.TipIdentifier.objects.count() == 1


def test_the_race_reaches_the_unique_index(monkeypatch):
    # the barrier really makes every racer pass the service's own existence check: without
    # the guard around the insert, the losers would get the database's error instead
    monkeypatch.setattr(
        "backend.services.sources.refusing_duplicates", lambda _constraints: nullcontext()
    )
    answers = _race(monkeypatch, m.Source, CREATE_SOURCE, {})
    assert sum(1 for answer in answers if answer.get("errors")) == RACERS - 1
