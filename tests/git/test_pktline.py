from __future__ import annotations

import os

import pytest

from gitdeploy.git import pktline


def feed(data: bytes) -> int:
    read, write = os.pipe()
    os.write(write, data)
    os.close(write)
    return read


def test_a_section_is_read_up_to_its_flush_packet() -> None:
    fd = feed(b"000eversion=1\n0000" + pktline.encode(b"0 1 refs/heads/main\n") + b"0000")
    assert pktline.read_section(fd) == [b"version=1"]
    assert pktline.read_section(fd) == [b"0 1 refs/heads/main"]
    os.close(fd)


def test_encode_counts_its_own_four_bytes() -> None:
    assert pktline.encode(b"ok refs/heads/main") == b"0016ok refs/heads/main"


@pytest.mark.parametrize("data", [b"00", b"zzzz", b"0009ab", b"0002"])
def test_a_broken_stream_is_one_sentence(data: bytes) -> None:
    fd = feed(data)
    with pytest.raises(pktline.ProtocolError):
        pktline.read_section(fd)
    os.close(fd)
