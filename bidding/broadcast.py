"""The transport behind auctions/publish.py: lot events to every process watching the lot (bidding/fanout.py),
then marked published (bidding/outbox.py); personal notices to each user's sockets over the channel layer."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

import structlog
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from auctions.payloads import Payload
from bidding import fanout, outbox
from bidding.metrics import LAYER_SEND_FAILURES

log = structlog.get_logger(__name__)


class ChannelsSender:
    """Registered with auctions.publish by bidding.apps; called after commit."""

    def send_lot_events(self, lot_id: int, texts: list[tuple[int, str]], notices: list[tuple[int, Payload]]) -> None:
        _send_all(lot_id, texts, _notices(notices))

    def send_notices(self, notices: list[tuple[int, Payload]]) -> None:
        _send_notices(_notices(notices))


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def _notices(notify: list[tuple[int, Payload]]) -> list[tuple[str, dict]]:
    return [(user_group(user_id), {"type": "user.event", "payload": notice}) for user_id, notice in notify]


def _send_all(lot_id: int, texts: list[tuple[int, str]], notices: list[tuple[str, dict]]) -> None:
    first = None  # the run of events published in a row, marked as one range
    for seq, text in texts:
        try:
            fanout.publish(lot_id, text)
        except Exception:
            # The event is committed and replayable via `sync`; a failed send must not undo or hide it. Left
            # unmarked, the relay publishes it again.
            LAYER_SEND_FAILURES.labels("broadcast").inc()
            log.exception("broadcast_failed", lot_id=lot_id, seq=seq)
            if first is not None:
                outbox.marks.add(lot_id, first, seq - 1)
            first = None
            continue
        first = seq if first is None else first
    if first is not None:
        outbox.marks.add(lot_id, first, texts[-1][0])
    _send_notices(notices)


def _send_notices(notices: list[tuple[str, dict]]) -> None:
    if not notices:
        return
    kept = getattr(_deferred, "notices", None)
    if kept is not None:
        kept.extend(notices)
        return
    async_to_sync(_asend_notices)(notices)


_deferred = threading.local()


@contextmanager
def notices_deferred() -> Iterator[list[tuple[str, dict]]]:
    """In this thread, for the block: notices sent after commit are kept in the list yielded instead, for the
    caller to hand to send_deferred_soon once back in its event loop. A decision made under a lot's lock then never
    waits for the channel layer (each send from a thread is a round trip through the busy event loop)."""
    kept: list[tuple[str, dict]] = []
    _deferred.notices = kept
    try:
        yield kept
    finally:
        _deferred.notices = None


async def _asend_notices(notices: list[tuple[str, dict]]) -> None:
    """Each user's notices in the order given; different users' at once (each send is a round trip to the channel
    layer, and a clerk's view must not wait behind the house's and another bidder's outbid notice)."""
    layer = get_channel_layer()
    by_group: dict[str, list[dict]] = {}
    for group, message in notices:
        by_group.setdefault(group, []).append(message)
    if len(by_group) == 1:
        [(group, messages)] = by_group.items()
        await _asend_to(layer, group, messages)
        return
    await asyncio.gather(*(_asend_to(layer, group, messages) for group, messages in by_group.items()))


async def _asend_to(layer, group: str, messages: list[dict]) -> None:
    for message in messages:
        try:
            await layer.group_send(group, message)
        except Exception:
            LAYER_SEND_FAILURES.labels("notice").inc()
            log.exception("notice_failed", group=group, notice=message["payload"].get("type"))


_notice_tasks: set[asyncio.Task] = set()


def send_notices_soon(notify: list[tuple[int, Payload]]) -> None:
    """From a coroutine: send personal notices in the background (they carry no ordering promise)."""
    if not notify:
        return
    task = asyncio.get_running_loop().create_task(_asend_notices(_notices(notify)))
    _notice_tasks.add(task)  # keep a reference until it is done
    task.add_done_callback(_notice_tasks.discard)


def send_deferred_soon(notices: list[tuple[str, dict]]) -> None:
    """From a coroutine: send notices kept by notices_deferred in the background, after those handed over before
    them in this event loop (a clerk's view must not be overtaken by an older one)."""
    if not notices:
        return
    loop = asyncio.get_running_loop()
    line = _lines.setdefault(loop, _Line())
    line.waiting.append(notices)
    if line.sender is None or line.sender.done():
        line.sender = loop.create_task(line.send_all())


class _Line:
    """One event loop's notices waiting to be sent, sent in the order handed over by one task at a time."""

    def __init__(self) -> None:
        self.waiting: deque[list[tuple[str, dict]]] = deque()
        self.sender: asyncio.Task | None = None

    async def send_all(self) -> None:
        while self.waiting:
            await _asend_notices(self.waiting.popleft())


_lines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Line] = weakref.WeakKeyDictionary()
