"""A database host that stops answering costs a bounded wait, never a hung process."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

from conftest import ROOT, service_env


def test_a_database_host_that_never_answers_fails_the_connection_instead_of_hanging():
    """A host that accepts TCP and then says nothing (a failed-over address, a wedged pooler): the closing worker's
    pass and every request would otherwise wait on the connection forever."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # the kernel completes the handshake; nobody ever answers
        port = silent.getsockname()[1]
        started = time.monotonic()
        try:
            result = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import django; django.setup(); from django.db import connection; connection.ensure_connection()",
                ],
                cwd=ROOT,
                env={**service_env(), "DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/gavel"},
                capture_output=True,
                text=True,
                timeout=60,
            )
        except subprocess.TimeoutExpired:
            raise AssertionError("the connection still waited after 60 s") from None
        waited = time.monotonic() - started
    assert result.returncode != 0
    assert "timeout expired" in result.stderr, result.stderr[-2000:]
    assert waited < 30, f"waited {waited:.1f} s"
