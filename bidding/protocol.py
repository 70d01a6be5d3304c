"""Parsing of client frames. Every frame is untrusted: it becomes a dict with a known `type` or an InvalidBid."""

from __future__ import annotations

import json
import re
from typing import Any

from auctions.exceptions import InvalidBid

# Close codes (4000-4999 are the application's). Documented in docs/protocol.md.
CLOSE_FLOODING = 4008
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_LOT_NOT_FOUND = 4404
CLOSE_TOO_MANY_SOCKETS = 4429


# What PostgreSQL cannot store in a text column: NUL, and a lone UTF-16 surrogate (legal as a JSON escape, never
# valid UTF-8). A frame carrying one anywhere is refused whole, before any of it reaches a query.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(text: str) -> bool:
    return _UNSTORABLE.search(text) is None


def _all_text_storable(message: Any) -> bool:
    pending = [message]  # iterative: the frame may nest as deep as the JSON parser allows
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if not storable(value):
                return False
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return True


def _refuse_constant(name: str) -> Any:
    raise InvalidBid(f"{name} is not a number this protocol accepts.")


def parse_frame(
    text_data: str | None, bytes_data: bytes | None, *, max_bytes: int, allowed_types: frozenset[str]
) -> dict[str, Any]:
    """A dict whose `type` is one of `allowed_types` (the socket's own list: never a handler name), or InvalidBid."""
    if text_data is None:
        raise InvalidBid("Frames must be text (JSON), not binary.")
    if len(text_data) > max_bytes or len(text_data.encode("utf-8", "surrogatepass")) > max_bytes:
        raise InvalidBid(f"Frames may be at most {max_bytes} bytes.")
    try:
        message = json.loads(text_data, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise InvalidBid("The frame is not valid JSON.") from None
    if not isinstance(message, dict):
        raise InvalidBid("The frame must be a JSON object.")
    if not _all_text_storable(message):
        raise InvalidBid("Text may not contain NUL characters or lone surrogates (\\ud800-\\udfff).")
    if not isinstance(message.get("type"), str) or message["type"] not in allowed_types:
        raise InvalidBid("Unknown message type.", field="type")
    return message


def since_seq(message: dict[str, Any]) -> int:
    value = message.get("since_seq")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidBid("since_seq must be a non-negative integer.", field="since_seq")
    return value


def since_id(message: dict[str, Any]) -> int:
    value = message.get("since_id")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidBid("since_id must be a non-negative integer.", field="since_id")
    return value
