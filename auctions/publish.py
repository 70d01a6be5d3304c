"""The one way out for events: send after commit, through the sender registered at start-up.

A leaf (Zulip's `send_event_on_commit` is the model): it knows no lot, bid or socket, only that a transport
(bidding.broadcast, registered by bidding.apps) sends what is handed to it once the transaction commits, so
nobody hears of a change that then rolled back.
"""

from __future__ import annotations

from typing import Any, Protocol

from django.db import transaction

Notice = tuple[int, dict[str, Any]]  # (user id, payload)


class Sender(Protocol):
    def send_lot_events(self, lot_id: int, texts: list[tuple[int, str]], notices: list[Notice]) -> None:
        """Publish one lot's events, (seq, encoded text) in sequence order, then the personal notices."""

    def send_notices(self, notices: list[Notice]) -> None:
        """Send personal notices to each user's sockets."""


_sender: Sender | None = None


def register_sender(sender: Sender | None) -> Sender | None:
    """Called at start-up by the app that owns the transport; returns the sender it replaces."""
    global _sender
    previous, _sender = _sender, sender
    return previous


def lot_events_on_commit(lot_id: int, texts: list[tuple[int, str]], *, notices: list[Notice]) -> None:
    sender = _registered()
    transaction.on_commit(lambda: sender.send_lot_events(lot_id, texts, notices))


def notices_on_commit(notices: list[Notice]) -> None:
    sender = _registered()
    transaction.on_commit(lambda: sender.send_notices(notices))


def _registered() -> Sender:
    if _sender is None:
        raise RuntimeError("No event sender is registered: the bidding app registers one when it is ready.")
    return _sender
