"""The demo command: demo mode only, one user per role with credentials printed once, fake data."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from backend import models as m
from backend.demo import load_demo_data

pytestmark = pytest.mark.django_db


def test_demo_refuses_outside_development(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="TIPGRAPH_DEBUG=1"):
        call_command("demo", tips=5)


def test_demo_creates_users_once_and_loads_data_once(settings):
    settings.DEBUG = True
    # when the demo is set up twice
    first, second = StringIO(), StringIO()
    call_command("demo", tips=40, stdout=first)
    call_command("demo", tips=40, stdout=second)
    # then every role has one demo user, whose password was printed the first time only
    assert sorted(m.User.objects.values_list("role", flat=True)) == sorted(m.Role.values)
    for user in m.User.objects.all():
        assert user.username in first.getvalue()
        assert user.username not in second.getvalue()
    assert "already loaded" in second.getvalue()
    assert m.Tip.objects.count() == 40


def test_demo_data_is_fake_and_shares_identifiers():
    # given an analyst to author notes
    m.User.objects.create(username="a", role=m.Role.ANALYST)
    # when 300 demo tips are generated
    counts = load_demo_data(tips=300, seed=3)
    # then the counts match the database
    assert counts["tips"] == m.Tip.objects.count() == 300
    assert counts["identifiers"] == m.Identifier.objects.count()
    assert counts["links"] == m.TipLink.objects.count() > 0
    # every e-mail is on a reserved example domain and every narrative says it is fake
    emails = m.Identifier.objects.filter(kind="EMAIL").values_list("value", flat=True)
    assert emails and all(
        e.split("@")[1] in {"example.com", "example.org", "example.net"} for e in emails
    )
    assert not m.Tip.objects.exclude(narrative__startswith="FAKE DEMO DATA").exists()
    # and some identifiers are shared by several tips
    shared = [
        i for i in m.Identifier.objects.all() if i.sightings.values("tip").distinct().count() > 1
    ]
    assert shared


class _Worker:
    """The background worker's process, as the demo handles it."""

    pid = 4242
    terminated = False

    def terminate(self) -> None:
        self.terminated = True

    def wait(self, timeout: float) -> int:
        return 0


def test_demo_serves_the_asgi_entry_with_websockets(settings, monkeypatch):
    # given the demo in development mode, with the server and the worker process watched
    import subprocess

    import uvicorn

    settings.DEBUG = True
    served: list[tuple[tuple, dict]] = []
    worker = _Worker()
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: served.append((args, kwargs)))
    monkeypatch.setattr(subprocess, "Popen", lambda *args, **kwargs: worker)
    # when it is asked to serve
    call_command("demo", tips=5, serve=True, port="8123", stdout=StringIO())
    # then it serves the ASGI entry (HTTP and GraphQL subscriptions over WebSocket, which
    # Django's runserver cannot) with the production ASGI worker's WebSocket limits, and stops
    # the worker afterwards
    [(args, kwargs)] = served
    assert args == ("backend.asgi:application",)
    assert (kwargs["host"], kwargs["port"]) == ("127.0.0.1", 8123)
    assert kwargs["ws"] == "websockets-sansio"
    assert kwargs["ws_max_size"] == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert worker.terminated
