"""A socket path that names no socket is refused at the handshake, cleanly: one warning line, no server error, no
traceback. Real Daphne."""

from __future__ import annotations

import json

import pytest
import websockets

from bidding.tests.live import connect
from conftest import ORIGIN

pytestmark = pytest.mark.django_db(transaction=True)

UNKNOWN_PATHS = ["/ws/auctions/-1/", "/ws/auctions/abc/", "/ws/auctions/", "/ws/nowhere/", "/ws/me/extra/", "/"]


async def test_unknown_socket_paths_are_refused_with_one_warning_and_no_traceback(start_daphne, lot):
    server = start_daphne()
    for path in UNKNOWN_PATHS:
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(f"{server.url}{path}", origin=ORIGIN)
        assert refused.value.response.status_code == 403, path
    known = await connect(server.url, lot.pk)  # the routes that exist still work
    await known.close()

    log = server.log_path.read_text()
    warnings = [json.loads(line) for line in log.splitlines() if line.startswith("{") and "unknown_path" in line]
    assert [(w["event"], w["level"], w["path"]) for w in warnings] == [
        ("ws_refused", "warning", path) for path in UNKNOWN_PATHS
    ], log[-3000:]
    assert "Traceback" not in log and "Exception inside application" not in log, log[-3000:]
