"""This worker process's identity in Redis, and the sorted set where each live process stamps its heartbeat
(bidding.presence writes it; presence counts and the socket caps read only the processes seen alive)."""

from __future__ import annotations

import os
import socket
import uuid

PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
ALIVE_KEY = "gavel:presence:alive"
