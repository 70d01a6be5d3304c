from __future__ import annotations

import structlog
from django.urls import path, re_path

from bidding.consumers import LotConsumer, MeConsumer, SaleConsumer, SellerConsumer

log = structlog.get_logger(__name__)


async def unknown_path(scope, receive, send) -> None:
    """Any other path names no socket: the handshake is refused (HTTP 403) with one warning line. (Without this
    route Channels' router raises, and Daphne answers 500 with a traceback.)"""
    if scope["type"] != "websocket":
        return
    message = await receive()
    if message["type"] == "websocket.connect":
        log.warning("ws_refused", reason="unknown_path", path=scope.get("path", "")[:200])
        await send({"type": "websocket.close"})


websocket_urlpatterns = [
    path("ws/auctions/<int:lot_id>/", LotConsumer.as_asgi()),
    path("ws/sales/<int:sale_id>/", SaleConsumer.as_asgi()),
    path("ws/me/", MeConsumer.as_asgi()),
    path("ws/seller/", SellerConsumer.as_asgi()),
    re_path(r"", unknown_path),  # last: whatever the routes above do not match
]
