"""The ASGI entry (``make serve-asgi``): Django's HTTP views, and GraphQL subscriptions over
WebSocket at ``/graphql`` (``schema.subscriptions``, graphql-transport-ws on Django Channels,
with the channel layer of ``settings.CHANNEL_LAYERS``)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
http_application = get_asgi_application()  # sets Django up before the schema is imported

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL  # noqa: E402

from schema.subscriptions import TipGraphWSConsumer, websocket_schema  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": http_application,
        "websocket": URLRouter(
            [
                re_path(
                    r"^graphql/?$",
                    TipGraphWSConsumer.as_asgi(
                        schema=websocket_schema(),
                        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
                        keep_alive=True,
                        keep_alive_interval=30,
                    ),
                )
            ]
        ),
    }
)
