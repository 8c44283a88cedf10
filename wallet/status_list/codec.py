"""Bounded decompression and bit addressing shared by both status list formats.

Token Status List (https://datatracker.ietf.org/doc/draft-ietf-oauth-status-list/ §4.1) packs
entries **least significant bit first** in each byte and compresses with ZLIB (RFC 1950); the W3C
Bitstring Status List (https://www.w3.org/TR/vc-bitstring-status-list/ §3.1, §4.1) puts index 0 at
the **most significant (left-most) bit** and compresses with GZIP (RFC 1952). Both lists arrive from
a remote party, so inflation is bounded: a few KB of zeros must not become gigabytes in memory.
Pure: no I/O.
"""

from __future__ import annotations

import zlib

from wallet.status_list.errors import InvalidStatusList, StatusIndexOutOfRange

__all__ = ["DEFAULT_MAX_INFLATED", "inflate", "read_lsb_first", "read_msb_first"]

#: 4 MiB: room for 2^22 eight-bit entries or 2^25 one-bit entries.
DEFAULT_MAX_INFLATED = 4 << 20


def inflate(data: bytes, *, gzip: bool, max_size: int = DEFAULT_MAX_INFLATED) -> bytes:
    """Decompress one complete ZLIB (or GZIP) stream, refusing output above ``max_size``."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
    try:
        out = d.decompress(data, max_size + 1)
    except zlib.error as exc:
        raise InvalidStatusList("status list is not valid compressed data") from exc
    if len(out) > max_size or d.unconsumed_tail:
        raise InvalidStatusList("status list inflates beyond the size limit")
    if not d.eof or d.unused_data:
        raise InvalidStatusList("status list compressed stream is truncated or has trailing data")
    return out


def _check_index(index: int, bits: int, size: int) -> None:
    if not isinstance(index, int) or isinstance(index, bool) or index < 0 or (
        (index + 1) * bits > size * 8
    ):
        raise StatusIndexOutOfRange("status index is outside the status list")


def read_lsb_first(data: bytes, index: int, bits: int) -> int:
    """Entry ``index`` of a list of ``bits``-bit values packed LSB first (bits in 1, 2, 4, 8)."""
    _check_index(index, bits, len(data))
    pos = index * bits
    return (data[pos // 8] >> (pos % 8)) & ((1 << bits) - 1)


def read_msb_first(data: bytes, index: int, bits: int) -> int:
    """Entry ``index`` of a list of ``bits``-bit values, the first bit being the left-most one."""
    _check_index(index, bits, len(data))
    value = 0
    for pos in range(index * bits, (index + 1) * bits):
        value = (value << 1) | ((data[pos // 8] >> (7 - pos % 8)) & 1)
    return value
