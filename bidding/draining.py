"""Graceful shutdown state of this worker process (config/serve.py drives it).

On SIGTERM the worker stops being ready, lets bids already being decided finish, then closes every socket with
4503 "going away, reconnect" so clients reconnect to another worker and `sync`. (Not 1001: Daphne's WebSocket
library, autobahn, lets a server send only 1000 or an application code 3000-4999.) No accepted bid is lost: a bid
is committed before its `bid_accepted` is sent, and a bid that arrives while draining is refused `unavailable`
(retry elsewhere with the same bid_id).
"""

from __future__ import annotations

import asyncio
import time
import weakref

import structlog

log = structlog.get_logger(__name__)

GOING_AWAY = 4503

_draining = False
_in_flight = 0
_sockets: weakref.WeakSet = weakref.WeakSet()


def is_draining() -> bool:
    return _draining


def register(socket) -> None:
    _sockets.add(socket)


def unregister(socket) -> None:
    _sockets.discard(socket)


class in_flight:
    """Counts a bid decision in progress (async context manager)."""

    async def __aenter__(self):
        global _in_flight
        _in_flight += 1

    async def __aexit__(self, *exc):
        global _in_flight
        _in_flight -= 1


async def drain(*, timeout: float) -> None:
    global _draining
    _draining = True
    started = time.monotonic()
    log.info("drain_started", sockets=len(_sockets), in_flight=_in_flight)
    while _in_flight and time.monotonic() - started < timeout:  # noqa: ASYNC110 - a count, not an event to await
        await asyncio.sleep(0.01)
    if _in_flight:
        log.error("drain_timeout", in_flight=_in_flight)
    sockets = list(_sockets)
    for socket in sockets:
        try:
            await socket.close(code=GOING_AWAY)
        except Exception:
            log.exception("drain_close_failed")
    await asyncio.sleep(0.3)  # let the close frames leave before the reactor stops
    log.info("drain_finished", closed=len(sockets), seconds=round(time.monotonic() - started, 3))
