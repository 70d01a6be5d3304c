"""ASGI middleware around the socket router: what every socket gets before and after its consumer runs, the way
Channels' own AllowedHostsOriginValidator and AuthMiddlewareStack wrap it. Both expect the session user in the
scope (they sit inside AuthMiddlewareStack); plain HTTP passes straight through.
"""

from __future__ import annotations

import asyncio
import weakref

import structlog
from channels.db import database_sync_to_async
from django.conf import settings

from accounts.sessions import sessions_signing_in
from bidding import admission, fanout
from bidding.protocol import CLOSE_NOT_AUTHENTICATED, CLOSE_TOO_MANY_SOCKETS

log = structlog.get_logger(__name__)


def _user_id(scope) -> int | None:
    user = scope.get("user")
    return user.pk if user is not None and user.is_authenticated else None


async def _refuse(send, code: int) -> None:
    """Answer the handshake with an application close code (a refused handshake could carry none)."""
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": code})


def _replaying(first: dict, receive):
    """`receive` again, starting with the message already read."""
    pending = [first]

    async def replay() -> dict:
        return pending.pop() if pending else await receive()

    return replay


class SocketCaps:
    """At most WS_MAX_SOCKETS_PER_IP sockets per address and WS_MAX_SOCKETS_PER_USER per user, counted across every
    process (bidding/admission.py). A socket over either cap is closed with 4429 before its consumer starts; its
    places are given back when the consumer ends, however it ends."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)
        first = await receive()
        receive = _replaying(first, receive)
        if first["type"] != "websocket.connect":  # gone before its handshake: nothing to count
            return await self.inner(scope, receive, send)
        fanout.hub()  # its presence heartbeat keeps this process's sockets counted under the shared caps
        caps = [(admission.sockets_per_ip, (scope.get("client") or ("?", 0))[0], settings.WS_MAX_SOCKETS_PER_IP)]
        if (user_id := _user_id(scope)) is not None:
            caps.append((admission.sockets_per_user, user_id, settings.WS_MAX_SOCKETS_PER_USER))
        taken = []  # (a Redis outage leaves each cap to this process's own count: bidding/admission.py)
        try:
            for cap, key, limit in caps:
                if not await cap.open(key, limit):
                    log.warning("ws_refused", reason="too_many_sockets", cap=cap.name)
                    return await _refuse(send, CLOSE_TOO_MANY_SOCKETS)
                taken.append((cap, key))
            return await self.inner(scope, receive, send)
        finally:
            for cap, key in taken:
                await cap.close(key)


_sessions_still_valid = database_sync_to_async(sessions_signing_in, thread_sensitive=False)


class SessionRevalidation:
    """A socket outlives the page that opened it: when its session no longer signs its user in (logout, expiry, a
    deactivated account, a password change, reset or "sign out everywhere" made from another session:
    accounts/sessions.py), it is closed with 4401 within WS_SESSION_REVALIDATE_SECONDS."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def __call__(self, scope, receive, send):
        session = scope.get("session")
        user_id = _user_id(scope) if scope["type"] == "websocket" else None
        if user_id is None or session is None or not session.session_key:
            return await self.inner(scope, receive, send)
        watch = _watches.setdefault(asyncio.get_running_loop(), SessionWatch())
        pair = (session.session_key, user_id)
        watch.add(pair, send)
        try:
            return await self.inner(scope, receive, send)
        finally:
            watch.discard(pair, send)


class SessionWatch:
    """One event loop's signed-in sockets, by (session key, user id), checked together every
    WS_SESSION_REVALIDATE_SECONDS: one batch of queries per interval for the whole worker, not two queries per
    socket."""

    def __init__(self) -> None:
        self.sockets: dict[tuple[str, int], set] = {}
        self.task: asyncio.Task | None = None

    def add(self, pair: tuple[str, int], send) -> None:
        self.sockets.setdefault(pair, set()).add(send)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    def discard(self, pair: tuple[str, int], send) -> None:
        sends = self.sockets.get(pair)
        if sends is not None:
            sends.discard(send)
            if not sends:
                del self.sockets[pair]

    async def _run(self) -> None:
        while self.sockets:  # ends with the loop's last signed-in socket; the next one starts it again
            await asyncio.sleep(settings.WS_SESSION_REVALIDATE_SECONDS)
            try:
                await self.check()
            except Exception:
                log.exception("ws_session_check_failed")  # a database blip is not a logout; check again later

    async def check(self) -> None:
        pairs = list(self.sockets)
        if not pairs:
            return
        valid = await _sessions_still_valid(pairs)
        for pair in pairs:
            if pair in valid:
                continue
            for send in list(self.sockets.pop(pair, ())):
                log.info("ws_session_ended", user_id=pair[1])
                try:
                    await send({"type": "websocket.close", "code": CLOSE_NOT_AUTHENTICATED})
                except Exception:  # the socket may be closing already; the others are still told
                    log.exception("ws_session_close_failed", user_id=pair[1])


_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SessionWatch] = weakref.WeakKeyDictionary()
