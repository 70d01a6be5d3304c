"""Prometheus metrics of the bid path and the sockets, in this process's registry (config/metrics.py serves it).

Labels are bounded sets (socket kind, message type, refusal code): never a lot or user id.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

WS_CONNECTIONS = Gauge("gavel_ws_connections", "Open WebSocket connections.", ["process", "socket"])
WS_MESSAGES_IN = Counter("gavel_ws_messages_in_total", "Frames received from clients.", ["socket", "type"])
WS_MESSAGES_OUT = Counter("gavel_ws_messages_out_total", "Messages written to clients.", ["path"])
WS_BROADCASTS_SKIPPED = Counter(
    "gavel_ws_broadcasts_skipped_total",
    "Lot events not written to a socket whose peer was too far behind (it syncs later).",
)
BIDS = Counter("gavel_bids_total", "Bid decisions by outcome and refusal code.", ["outcome", "code"])
LOCK_WAIT = Histogram(
    "gavel_bid_lock_wait_seconds",
    "Time waiting for a lot's lock.",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
)
BROADCAST_LATENCY = Histogram(
    "gavel_bid_to_broadcast_seconds",
    "From a bid's decision (its server_time) to its event reaching this process's sockets.",
    buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
LAYER_SEND_FAILURES = Counter(
    "gavel_channel_layer_send_failures_total",
    "Broadcasts or notices that could not be handed to Redis / the channel layer.",
    ["kind"],
)
