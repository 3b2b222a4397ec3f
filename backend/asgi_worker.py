"""The gunicorn worker of the ASGI entry (``make serve-asgi``:
``-k backend.asgi_worker.AsgiWorker``): uvicorn's, with WebSocket limits of ours.

- ``ws_max_size``: a WebSocket message (a subscribe request) may hold at most
  ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes, as an HTTP request's JSON may; a larger one closes
  the socket (1009, message too big) before anything parses it;
- ``ws_ping_interval`` / ``ws_ping_timeout``: a client that stops answering pings for a minute
  is disconnected, so that a dead socket does not hold its subscriptions and groups.
"""

from __future__ import annotations

from typing import Any

from uvicorn_worker import UvicornWorker

from backend.settings import DATA_UPLOAD_MAX_MEMORY_SIZE

__all__ = ["AsgiWorker"]


class AsgiWorker(UvicornWorker):
    CONFIG_KWARGS: dict[str, Any] = {
        **UvicornWorker.CONFIG_KWARGS,
        # the websockets library's sans-I/O protocol: uvicorn's "websockets" implementation is
        # deprecated (a warning at every start) and will point here in a later release
        "ws": "websockets-sansio",
        "ws_max_size": DATA_UPLOAD_MAX_MEMORY_SIZE,
        "ws_ping_interval": 30.0,
        "ws_ping_timeout": 30.0,
    }
