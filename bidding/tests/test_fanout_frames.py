"""The fan-out's prebuilt frames are what a WebSocket client expects, at every length encoding (RFC 6455 5.2);
the real-worker tests (test_faults, test_scale_out, config/tests) read them through a real client too."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from bidding.fanout import text_frame

pytestmark = pytest.mark.pure


def parse(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        assert reader.at_eof(), "bytes left after the frame"
        return done.value
    raise AssertionError("incomplete frame")


@pytest.mark.parametrize("size", [0, 125, 126, 65_535, 65_536, 200_000])
def test_a_prebuilt_frame_parses_as_one_final_text_frame(size):
    text = "é" * (size // 2) + "x" * (size % 2)  # two bytes per é: lengths at each encoding boundary
    frame = parse(text_frame(text))
    assert (frame.opcode, frame.fin, frame.data.decode()) == (Opcode.TEXT, True, text)
