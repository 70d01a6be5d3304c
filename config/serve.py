"""Run one Daphne worker that shuts down gracefully: `python -m config.serve` takes Daphne's own options.

Daphne's own SIGTERM handling stops the reactor at once, dropping every socket without a close frame. Here the
signal starts a drain instead (bidding/draining.py): /readyz turns 503, bids being decided finish and are answered,
then every socket is closed with 4503 "going away, reconnect", and only then does the reactor stop. A second
signal stops at once.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import time

import structlog
from daphne.cli import CommandLineInterface
from daphne.server import Server
from daphne.ws_protocol import WebSocketFactory, WebSocketProtocol
from django.conf import settings  # lazy: read only once a connection arrives, after setup
from twisted.internet import tcp

log = structlog.get_logger(__name__)


def _pending_bytes(transport) -> int:
    """What Twisted still holds for this connection because the peer is not reading (its kernel buffer is full)."""
    buffered = getattr(transport, "dataBuffer", b"")
    return len(buffered) - getattr(transport, "offset", 0) + getattr(transport, "_tempDataLen", 0)


def _write_now(transport, data: bytes) -> None:
    """Twisted's write only queues: it registers the socket with the event loop and sends on the next turn, then
    unregisters it, two epoll changes and a dispatch per frame. With nothing queued before it, a frame can go to the
    kernel at once, in order; what the kernel does not take (a full buffer), and any error, goes the usual way."""
    if (
        isinstance(transport, tcp.Connection)
        and transport.connected
        and not transport.disconnecting
        and not transport._tempDataLen
        and len(transport.dataBuffer) == transport.offset
    ):
        try:
            sent = transport.socket.send(data)
        except OSError:  # BlockingIOError included: Twisted's own write retries, or meets the error and closes
            sent = 0
        if sent == len(data):
            return
        data = data[sent:]
    transport.write(data)


class BoundedWebSocketProtocol(WebSocketProtocol):
    """Daphne would buffer every broadcast for a peer that stops reading, without bound. Instead, while more than
    WS_MAX_PENDING_BYTES wait unsent for a peer, the lot fan-out skips it (`backlog_full`): lot events are
    delivered at most once and carry a seq, so the client sees the gap once it reads again and `sync`s. A peer
    that stays that far behind for WS_STALL_SECONDS is dropped, and so is one whose backlog passes four times the
    limit (direct replies are never skipped). Other sockets never wait for it: writes never block."""

    dropping = False
    behind_since: float | None = None

    def connectionMade(self):
        if settings.WS_SEND_BUFFER_BYTES:  # bounds what the kernel holds for a stalled peer, before our limit
            self.transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, settings.WS_SEND_BUFFER_BYTES)
        super().connectionMade()

    def backlog_full(self) -> bool:
        """True while this peer is too far behind for another broadcast (the fan-out asks before each one)."""
        pending = _pending_bytes(self.transport)
        if pending <= settings.WS_MAX_PENDING_BYTES:
            self.behind_since = None
            return False
        now = time.monotonic()
        if self.behind_since is None:
            self.behind_since = now
            log.warning("ws_peer_behind", pending_bytes=pending, path=getattr(self, "path", None))
        elif now - self.behind_since > settings.WS_STALL_SECONDS:
            self._drop(pending, "stalled")
        return True

    def serverSend(self, content, binary=False):
        super().serverSend(content, binary)
        self._check_backlog()

    def write_frame(self, frame: bytes) -> bool:
        """Write a text frame the lot fan-out built once for all its sockets (bidding/fanout.py): no per-socket
        UTF-8 encoding, framing and logging in autobahn. False: not possible now (not open, or a per-message
        compression extension negotiated, which Daphne does not offer); the caller sends the usual way."""
        if self.state != self.STATE_OPEN or self.send_state != self.SEND_STATE_GROUND or self._perMessageCompress:
            return False
        _write_now(self.transport, frame)
        self._check_backlog()
        return True

    def _check_backlog(self) -> None:
        pending = _pending_bytes(self.transport)
        if pending > 4 * settings.WS_MAX_PENDING_BYTES:
            self._drop(pending, "backlog")

    def _drop(self, pending: int, why: str) -> None:
        if not self.dropping:
            self.dropping = True
            log.warning("ws_peer_not_reading", why=why, pending_bytes=pending, path=getattr(self, "path", None))
            self.transport.abortConnection()


def _refuse_broken_settings() -> None:
    """A worker does not start on settings that break a rule (config/checks.py), as manage.py commands do not."""
    from django.core import checks

    from config.checks import TAG

    messages = checks.run_checks(tags=[TAG])
    for message in messages:
        log.warning("settings_check", level=message.level, id=message.id, msg=message.msg)
    if any(message.is_serious() for message in messages):
        sys.exit("settings break the rules above (python manage.py check)")


class GracefulServer(Server):
    def __init__(self, *args, **kwargs) -> None:
        kwargs["signal_handlers"] = False  # ours, below, instead of the reactor's immediate stop
        super().__init__(*args, **kwargs)
        self._stopping = False

    def create_application(self, protocol, scope):
        if isinstance(protocol, BoundedWebSocketProtocol):
            from bidding.fanout import BACKLOG_FULL, WRITE_FRAME

            scope[BACKLOG_FULL] = protocol.backlog_full
            scope[WRITE_FRAME] = protocol.write_frame
        return super().create_application(protocol, scope)

    async def handle_reply(self, protocol, message):
        """A message for a socket whose closing handshake has begun (either side sent a close frame) is dropped, as
        Daphne drops one for a connection already gone: the peer hears nothing more either way. Passed on, it would
        raise in the application ("Attempt to send on a closed protocol") and end the socket with a traceback."""
        if (
            isinstance(protocol, WebSocketProtocol)
            and message.get("type") == "websocket.send"
            and protocol.state in (protocol.STATE_CLOSING, protocol.STATE_CLOSED)
        ):
            return
        await super().handle_reply(protocol, message)

    def run(self) -> None:
        _refuse_broken_settings()
        WebSocketFactory.protocol = BoundedWebSocketProtocol
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        super().run()

    def _on_signal(self, signum, frame) -> None:
        from twisted.internet import reactor

        reactor.callFromThread(self._begin_drain)

    def _begin_drain(self) -> None:
        from twisted.internet import reactor

        from bidding import draining

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
