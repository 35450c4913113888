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


@pytest.mark.parametrize(("raw", "shown"), [
    (b"\x1b[31mred\x1b[0m plain\n", "\x1b[31mred\x1b[0m plain"),          # colours pass
    (b"\x1b]0;pwned-title\x07x\n", "^[]0;pwned-title^Gx"),              # window title
    (b"\x1b]52;c;ZXZpbA==\x07\n", "^[]52;c;ZXZpbA==^G"),                # clipboard write
    (b"\x1b[2J\x1b[1A fake line\n", "^[[2J^[[1A fake line"),            # clear, cursor up
    (b"tab\there\x7f\n", "tab\there^?"),
    ("\u009b2J\n".encode(), "\\x9b2J"),                                 # a C1 CSI
])
def test_app_output_cannot_drive_the_pushers_terminal(raw: bytes, shown: str) -> None:
    assert LineSplitter().feed(raw) == [shown]
