"""git's pkt-line framing, as the ``proc-receive`` hook speaks it with ``git receive-pack``.

A packet is four hex digits giving its length (those four included), then the payload;
``0000`` (a flush packet) ends a section. See gitprotocol-common(5) and, for the exchange,
githooks(5), "proc-receive": version negotiation, the pushed commands, then one ``ok REF`` or
``ng REF REASON`` per command from the hook.
"""

from __future__ import annotations

import os

from gitdeploy.errors import GitdeployError

MAX_PAYLOAD = 65516  # LARGE_PACKET_DATA_MAX


class ProtocolError(GitdeployError):
    pass


def _read_exactly(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            raise ProtocolError("git receive-pack closed the hook's input mid-packet")
        data += chunk
    return data


def read_packet(fd: int) -> bytes | None:
    """One payload; None for a flush packet."""
    head = _read_exactly(fd, 4)
    try:
        length = int(head, 16)
    except ValueError:
        raise ProtocolError(f"bad pkt-line length {head!r}") from None
    if length == 0:
        return None
    if length < 4:
        raise ProtocolError(f"bad pkt-line length {head!r}")
    return _read_exactly(fd, length - 4)


def read_section(fd: int) -> list[bytes]:
    """Payloads up to the next flush packet, each without its trailing newline."""
    packets = []
    while (packet := read_packet(fd)) is not None:
        packets.append(packet.removesuffix(b"\n"))
    return packets


def encode(payload: bytes) -> bytes:
    payload = payload[:MAX_PAYLOAD]
    return b"%04x" % (len(payload) + 4) + payload


FLUSH = b"0000"
