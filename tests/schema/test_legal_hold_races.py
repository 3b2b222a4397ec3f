"""Program managers holding one record for one matter at the same moment: one hold is placed,
every other request gets the typed ALREADY_HELD (never the database's unique-violation text).

Each request goes through /graphql in its own thread and connection and commits for real
(``transaction=True``). Every thread waits at a barrier just before the service takes the
record's row lock, so they all arrive together.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from backend import models as m
from backend.services import legal_holds
from tests.factories import TipFactory, UserFactory
from tests.schema.mutation_helpers import gid

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 4
TIMEOUT = 30

PLACE = """mutation ($record: ID!) {
  placeLegalHold(input: {recordId: $record, reason: "Litigation", reference: "CASE-RACE"}) {
    legalHold { id } errors { code field } } }"""


def test_racing_holds_for_one_matter_place_one_hold(monkeypatch):
    # given a tip and program managers about to hold it for the same matter
    tip = TipFactory()
    managers = [UserFactory(username=f"pm-{n}", role=m.Role.PROGRAM_MANAGER) for n in range(RACERS)]
    together = threading.Barrier(RACERS, timeout=TIMEOUT)
    check_lengths = legal_holds.check_lengths

    def arrive_together(*args: Any, **kwargs: Any) -> None:
        together.wait()
        check_lengths(*args, **kwargs)

    monkeypatch.setattr(legal_holds, "check_lengths", arrive_together)
    answers: list[dict[str, Any]] = []
    failures: list[BaseException] = []

    def place(manager: m.User) -> None:
        try:
            client = Client()
            client.force_login(manager)
            response = client.post(
                "/graphql",
                json.dumps({"query": PLACE, "variables": {"record": gid("Tip", tip.pk)}}),
                content_type="application/json",
            )
            answers.append(response.json())
        except BaseException as error:  # reported by the test, not lost in the thread
            failures.append(error)
        finally:
            connection.close()

    # when they all send placeLegalHold at once
    threads = [threading.Thread(target=place, args=(manager,)) for manager in managers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    # then one hold is placed, and every other request is told ALREADY_HELD
    assert failures == []
    payloads = [answer["data"]["placeLegalHold"] for answer in answers]
    placed = [p for p in payloads if p["legalHold"] is not None]
    refused = sorted((e["code"], e["field"]) for p in payloads for e in p["errors"])
    assert len(placed) == 1
    assert refused == [("ALREADY_HELD", "reference")] * (RACERS - 1)
    assert m.LegalHold.objects.filter(tip=tip).count() == 1
