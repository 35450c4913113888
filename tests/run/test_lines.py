from __future__ import annotations

import pytest

from gitdeploy.run.lines import LineSplitter


@pytest.mark.parametrize(
    ("chunks", "lines"),
    [
        ([b"a\nb\n"], ["a", "b"]),
        ([b"a", b"b\n"], ["ab"]),
        ([b"a\r\nb\r\n"], ["a", "b"]),
        ([b"a\r", b"\nb\n"], ["a", "b"]),
        ([b"10%\r20%\r30%\n"], ["10%", "20%", "30%"]),
        ([b"no newline"], ["no newline"]),
        ([b"\xff\xfeok\n"], ["\ufffd\ufffdok"]),
        ([b"nul\x00byte\n"], ["nul\ufffdbyte"]),
        ([b"\xe2\x82", b"\xac\n"], ["\u20ac"]),
        ([b"x" * 25 + b"\n"], ["x" * 10, "x" * 10, "x" * 5]),
        ([b"\xe2\x82\xac" * 5 + b"\n"], ["\u20ac" * 3, "\u20ac" * 2]),
        ([b"\n\n"], ["", ""]),
    ],
)
def test_line_splitter(chunks: list[bytes], lines: list[str]) -> None:
    splitter = LineSplitter(max_line=10)
    got: list[str] = []
    for chunk in chunks:
        got += splitter.feed(chunk)
    got += splitter.flush()
    assert got == lines


def test_a_megabyte_without_newline_is_streamed_in_pieces() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"y" * 1_000_000)
    assert len(splitter._buffer) <= 16 * 1024
