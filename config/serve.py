"""Run one Daphne worker that shuts down gracefully: `python -m config.serve` takes Daphne's own options.

Daphne's own SIGTERM handling stops the reactor at once, dropping every socket without a close frame. Here the
signal starts a drain instead (config/draining.py): /readyz turns 503, bids being decided finish and are answered,
then every socket is closed with 4503 "going away, reconnect", and only then does the reactor stop. A second signal stops at
once.
"""
from __future__ import annotations

import asyncio
import signal
import sys

import structlog
from daphne.cli import CommandLineInterface
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol

log = structlog.get_logger(__name__)


def _pending_bytes(transport) -> int:
    """What Twisted still holds for this connection because the peer is not reading (its kernel buffer is full)."""
    buffered = getattr(transport, "dataBuffer", b"")
    return len(buffered) - getattr(transport, "offset", 0) + getattr(transport, "_tempDataLen", 0)


class BoundedWebSocketProtocol(WebSocketProtocol):
    """A peer that answers pings but never reads would make Daphne buffer every broadcast for it, without bound.
    Past WS_MAX_PENDING_BYTES of unsent data the connection is aborted; the client, if it is alive, reconnects and
    `sync`s. Other sockets never wait for it: writes never block."""

    dropping = False

    def serverSend(self, content, binary=False):
        super().serverSend(content, binary)
        from django.conf import settings

        pending = _pending_bytes(self.transport)
        if pending > settings.WS_MAX_PENDING_BYTES and not self.dropping:
            self.dropping = True
            log.warning("ws_peer_not_reading", pending_bytes=pending, path=getattr(self, "path", None))
            self.transport.abortConnection()


class GracefulServer(Server):
    def __init__(self, *args, **kwargs) -> None:
        kwargs["signal_handlers"] = False  # ours, below, instead of the reactor's immediate stop
        super().__init__(*args, **kwargs)
        self._stopping = False

    def run(self) -> None:
        WebSocketFactory.protocol = BoundedWebSocketProtocol
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        super().run()

    def _on_signal(self, signum, frame) -> None:
        from twisted.internet import reactor

        reactor.callFromThread(self._begin_drain)

    def _begin_drain(self) -> None:
        from django.conf import settings
        from twisted.internet import reactor

        from config import draining

        if self._stopping:
            reactor.stop()
            return
        self._stopping = True
        task = asyncio.get_event_loop().create_task(draining.drain(timeout=settings.DRAIN_TIMEOUT_SECONDS))
        task.add_done_callback(lambda _: reactor.stop())


class GracefulCommandLine(CommandLineInterface):
    server_class = GracefulServer


if __name__ == "__main__":
    GracefulCommandLine().run(sys.argv[1:])
